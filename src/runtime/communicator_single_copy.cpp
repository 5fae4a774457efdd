// The communicator's hook for single copy on one host (runtime/single_copy.hpp): set up at init,
// chosen per call in submit (PLEXUS_SINGLE_COPY=1), or offered per call beside the plan (auto:
// zero copy for ncclMemAlloc buffers). Kept apart from communicator.cpp.
#include "base/env.hpp"
#include "runtime/communicator.hpp"
#include "runtime/single_copy.hpp"

namespace plexus::runtime {

// Collective when every rank is on this host (each rank finds the same obstacle otherwise and
// returns without a collective). Not with PLEXUS_EXECUTOR=mapped (that path serves host
// collectives), PLEXUS_CHECK (its gate runs the signature check) or reproducible reductions.
void Communicator::startSingleCopy(Deadline deadline) {
  SingleCopySettings settings = singleCopySettingsFromEnv();
  if (mapped_ || checker_ || reproducible_) settings.mode = SingleCopyMode::kOff;
  // Only between peers the shm transport serves: PLEXUS_TRANSPORTS=tcp on one host keeps tcp.
  // Equal on every rank of one host (the transport lists must agree).
  for (int p = 0; p < nranks_; ++p)
    if (p != rank_ && selector_->transportName(p) != "shm") settings.mode = SingleCopyMode::kOff;
  SingleCopySetup s;
  static_cast<HostRanks&>(s) = hostRanksOf(peers_, rank_);
  s.timeout = timeout_;
  s.abort = &abort_;
  s.context = context_;
  s.allGather = [this, deadline](const std::string& mine) {
    return bootstrap_->allGather(mine, deadline);
  };
  s.pollPeers = [this] { selector_->progressTransports(); };
  // A copy of the engine's settings: single copy may outlive the engine (communicator.hpp).
  s.streams = [cfg = engine_->config()](uint64_t bytes, bool inPlace) {
    return engine::streamsResults(cfg, bytes, inPlace);
  };
  single_ = SingleCopy::create(std::move(s), settings);
}

bool Communicator::trySingleCopy(const OpArgs& a, engine::WorkDesc& d) {
  if (!single_ || mapped_ || checker_) return false;
  if (!single_->serves(a.collective, a.count, dataTypeSize(a.type))) return false;
  d.plan = single_->plan(a.collective, a.count);
  SingleCopy* sc = single_.get();
  d.gate = [sc, c = a.collective, in = a.input, out = a.output, n = a.count, t = a.type,
            op = a.op] { sc->call(c, in, out, n, t, op); };
  return true;
}

bool Communicator::offerZeroCopy(const OpArgs& a, engine::WorkDesc& d) {
  if (!single_ || mapped_ || checker_) return false;
  if (!single_->offers(a.collective, a.count, dataTypeSize(a.type))) return false;
  SingleCopy* sc = single_.get();
  d.gate = [sc, in = a.input, out = a.output, n = a.count, t = a.type, op = a.op] {
    sc->offer(in, out, n, t, op);
  };
  d.poll = [sc] {
    switch (sc->settle()) {
      case SingleCopy::Settled::kDone:
        return engine::WorkDesc::Poll::kDone;
      case SingleCopy::Settled::kSlots:
        return engine::WorkDesc::Poll::kRunPlan;
      default:
        return engine::WorkDesc::Poll::kWaiting;
    }
  };
  return true;
}

void Communicator::recordZeroCopy(engine::WorkDesc& d) {
  d.poll = [poll = std::move(d.poll), trace = d.trace] {
    const engine::WorkDesc::Poll r = poll();
    if (r == engine::WorkDesc::Poll::kDone) FlightRecorder::ranZeroCopy(trace);
    return r;
  };
}

}  // namespace plexus::runtime
