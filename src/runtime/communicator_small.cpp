// The communicator's hook for small all-reduces on one host (runtime/small_all_reduce.hpp): set up
// at init; per call run inline (the engine idle) or queued as an empty plan whose gate posts and
// whose poll finishes it.
// Kept apart from communicator.cpp.
#include "base/log.hpp"
#include "engine/engine.hpp"
#include "runtime/communicator.hpp"
#include "runtime/flight_recorder.hpp"
#include "runtime/small_all_reduce.hpp"

namespace plexus::runtime {

// Collective when every rank is on this host and the path is allowed (each rank finds the same
// obstacle otherwise and returns without a collective). Off where the engine must run the call's
// own plan: PLEXUS_EXECUTOR=mapped, PLEXUS_CHECK (its gate runs the signature check), reproducible
// reductions, an all-reduce algorithm forced or restricted by PLEXUS_ALGO, plan files, a
// synthetic system (PLEXUS_SYSTEM: the plans are to be that system's); and
// between ranks that the shm transport does not serve (PLEXUS_TRANSPORTS=tcp keeps tcp).
void Communicator::startSmallAllReduce(Deadline deadline) {
  if (mapped_ || checker_ || reproducible_ || systemInjected_ || !customPlans_.empty() ||
      algoFilter_.restricts(algo::Collective::kAllReduce))
    return;
  for (int p = 0; p < nranks_; ++p)
    if (p != rank_ && selector_->transportName(p) != "shm") return;
  SmallAllReduceSetup s;
  static_cast<HostRanks&>(s) = hostRanksOf(peers_, rank_);
  if (!smallAllReduceObstacle(s).empty()) return;
  s.timeout = timeout_;
  s.abort = &abort_;
  s.context = context_;
  s.spin = engine_->config().spin;
  s.yield = engine_->config().yield;
  s.allGather = [this, deadline](const std::string& mine) {
    return bootstrap_->allGather(mine, deadline);
  };
  s.pollPeers = [this] { selector_->progressTransports(); };
  small_ = SmallAllReduce::create(std::move(s), smallAllReduceMaxFromEnv(nranks_));
}

bool Communicator::smallServes(const OpArgs& a) const {
  return small_ && a.collective == algo::Collective::kAllReduce &&
         small_->serves(a.count, dataTypeSize(a.type));
}

bool Communicator::trySmallAllReduce(const OpArgs& a, engine::WorkDesc& d) {
  if (!smallServes(a)) return false;
  d.plan = small_->plan(a.count);
  SmallAllReduce* sm = small_.get();
  d.gate = [sm, in = a.input, out = a.output, n = a.count, t = a.type, op = a.op] {
    sm->post(in, out, n, t, op);
  };
  d.poll = [sm] {
    return sm->poll() ? engine::WorkDesc::Poll::kDone : engine::WorkDesc::Poll::kWaiting;
  };
  return true;
}

bool Communicator::runSmallNow(const OpArgs& a) {
  if (!smallServes(a) || checker_) return false;
  uint32_t seq = 0;
  if (!engine_->claimIdleCollective(&seq)) return false;
  engine::TraceRef trace;
  if (recorder_) {
    trace = recorder_->record(a, "small", 0);
    FlightRecorder::setSeq(trace, seq);
    trace.setState(engine::OpTrace::kRunning);
  }
  try {
    small_->call(a.input, a.output, a.count, a.type, a.op);
  } catch (const Error& e) {
    trace.setState(engine::OpTrace::kFailed);
    engine_->failAll(e.code(), e.what());  // later calls fail as after a queued call's failure
    throw;
  }
  trace.setState(engine::OpTrace::kDone);
  return true;
}

}  // namespace plexus::runtime
