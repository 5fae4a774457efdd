// The verifier's entry points (verifier.hpp): loads the plans of all ranks into a compact program
// while checking their structure, then runs it symbolically in each buffer placement.
#include "algorithms/verifier.hpp"

#include <algorithm>
#include <cinttypes>
#include <exception>
#include <unordered_map>

#include "algorithms/collective_spec.hpp"
#include "algorithms/symbolic.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace sym {

Coefficients::Coefficients(uint64_t seed, int nranks) {
  rank_.resize(static_cast<size_t>(nranks));
  for (int r = 0; r < nranks; ++r) {
    rank_[static_cast<size_t>(r)] = 1 + mix64(seed + static_cast<uint64_t>(r)) % (kPrime - 1);
    rankSum_ = addMod(rankSum_, rank_[static_cast<size_t>(r)]);
  }
  indexSeed_ = mix64(seed ^ 0xa5a5a5a5a5a5a5a5ull);
}

Step Program::expand(uint32_t id) const {
  const CStep& c = steps[id];
  Step s;
  s.kind = c.kind;
  s.finalize = c.finalize != 0;
  s.recvPeer = c.recvPeer;
  s.sendPeer = c.sendPeer;
  if (stepUsesSrc(c.kind)) s.src = {c.srcBuf, c.srcOff, c.count};
  if (stepUsesSrc2(c.kind)) s.src2 = {c.src2Buf, c.src2Off, c.count};
  if (stepUsesDst(c.kind)) s.dst = {c.dstBuf, c.dstOff, c.count};
  return s;
}

const Proc& Program::procOf(uint32_t id) const {
  auto it = std::upper_bound(procs.begin(), procs.end(), id,
                             [](uint32_t v, const Proc& p) { return v < p.begin; });
  return *(it - 1);
}

std::string Program::where(uint32_t id) const {
  const Proc& p = procOf(id);
  return formatString("rank %d channel %d step %u %s", p.rank, p.channel, id - p.begin,
                      expand(id).describe().c_str());
}

namespace {

// Loads plans one rank at a time into a Program, checking their structure.
class Loader {
 public:
  Loader(int nranks, const VerifyOptions& opt, std::vector<std::string>& errors)
      : opt_(opt), errors_(errors) {
    prog_.nranks = nranks;
    prog_.bufferCount.resize(static_cast<size_t>(nranks));
  }

  bool full() const { return errors_.size() >= opt_.maxErrors; }
  void error(const std::string& e) {
    if (!full()) errors_.push_back(e);
  }

  void add(const Plan& plan, int rank) {
    const int n = prog_.nranks;
    if (rank == 0) {
      prog_.collective = plan.collective;
      prog_.root = plan.root;
      prog_.count = plan.count;
      prog_.fifoElems = plan.fifoElems;
    }
    if (plan.rank != rank || plan.nranks != n) {
      error(formatString("rank %d: the plan says rank %d of %d, expected rank %d of %d", rank,
                         plan.rank, plan.nranks, rank, n));
      return;
    }
    // A send/recv batch has per-rank counts; a collective call has one shape.
    const bool p2p = plan.collective == Collective::kSendRecv;
    if (plan.collective != prog_.collective || plan.fifoElems != prog_.fifoElems ||
        (!p2p && (plan.count != prog_.count || plan.root != prog_.root))) {
      error(formatString("rank %d: the plan is for %s count %" PRIu64 " root %d fifo %" PRIu64
                         " but rank 0's is for %s count %" PRIu64 " root %d fifo %" PRIu64,
                         rank, collectiveName(plan.collective), plan.count, plan.root,
                         plan.fifoElems, collectiveName(prog_.collective), prog_.count, prog_.root,
                         prog_.fifoElems));
      return;
    }
    uint64_t wantIn = 0, wantOut = 0;
    if (sym::apiBufferSizes(plan.collective, n, rank, plan.root, plan.count, wantIn, wantOut) &&
        (plan.inputCount != wantIn || plan.outputCount != wantOut)) {
      error(formatString("rank %d: the plan declares input %" PRIu64 " and output %" PRIu64
                         " elements but %s of count %" PRIu64 " on %d ranks (root %d) passes "
                         "input %" PRIu64 " and output %" PRIu64,
                         rank, plan.inputCount, plan.outputCount, collectiveName(plan.collective),
                         plan.count, n, plan.root, wantIn, wantOut));
      return;
    }
    const std::array<uint64_t, 3> sizes = {plan.inputCount, plan.outputCount, plan.scratchCount};
    for (uint64_t s : sizes) {
      if (s > UINT32_MAX) {
        error(formatString("rank %d: buffers of %" PRIu64 " elements are too large to verify "
                           "symbolically; verify a smaller count",
                           rank, s));
        return;
      }
    }
    prog_.bufferCount[static_cast<size_t>(rank)] = sizes;

    std::vector<int> connections;
    for (size_t c = 0; c < plan.channels.size(); ++c) {
      const Channel& ch = plan.channels[c];
      if (ch.connection < 0 || ch.connection > kP2PConnection) {
        error(formatString("rank %d channel %zu: connection %d outside 0..%d", rank, c,
                           ch.connection, kP2PConnection));
        continue;
      }
      if (std::find(connections.begin(), connections.end(), ch.connection) != connections.end()) {
        error(
            formatString("rank %d channel %zu: connection %d is already used by another "
                         "channel of this rank (messages of two channels would interleave)",
                         rank, c, ch.connection));
        continue;
      }
      connections.push_back(ch.connection);
      Proc proc;
      proc.rank = rank;
      proc.channel = static_cast<int>(c);
      proc.connection = ch.connection;
      proc.begin = static_cast<uint32_t>(prog_.steps.size());
      lastSend_ = lastRecv_ = -1;
      for (size_t i = 0; i < ch.steps.size(); ++i) {
        if (prog_.steps.size() >= opt_.maxSteps || prog_.steps.size() >= UINT32_MAX - 1) {
          error(formatString("more than %" PRIu64 " steps: too large to verify symbolically",
                             std::min<uint64_t>(opt_.maxSteps, UINT32_MAX - 1)));
          return;
        }
        addStep(ch.steps[i], rank, static_cast<int>(c), i, ch.connection, sizes);
      }
      proc.end = static_cast<uint32_t>(prog_.steps.size());
      prog_.procs.push_back(proc);
    }
  }

  sym::Program take() { return std::move(prog_); }

 private:
  // A step and where it is, for messages.
  struct StepAt {
    const Step& s;
    int rank;
    int channel;
    size_t index;
    std::string where() const {
      return formatString("rank %d channel %d step %zu %s", rank, channel, index,
                          s.describe().c_str());
    }
  };

  void addStep(const Step& s, int rank, int channel, size_t index, int connection,
               const std::array<uint64_t, 3>& sizes) {
    if (static_cast<unsigned>(s.kind) > static_cast<unsigned>(StepKind::kReduce)) {
      error(formatString("rank %d channel %d step %zu: unknown step kind %u", rank, channel, index,
                         static_cast<unsigned>(s.kind)));
      return;
    }
    const StepAt at{s, rank, channel, index};
    const bool peersOk = checkPeers(at);
    const bool slicesOk = checkSlices(at, sizes);
    if (peersOk && slicesOk) compile(s, rank, connection);
  }

  // Reports peers that do not exist; false when there is one.
  bool checkPeers(const StepAt& at) {
    const Step& s = at.s;
    const int n = prog_.nranks;
    bool ok = true;
    if (stepReceives(s.kind) && (s.recvPeer < 0 || s.recvPeer >= n)) {
      error(formatString("%s: receives from rank %d, which does not exist (%d ranks)",
                         at.where().c_str(), s.recvPeer, n));
      ok = false;
    }
    if (stepSends(s.kind) && (s.sendPeer < 0 || s.sendPeer >= n)) {
      error(formatString("%s: sends to rank %d, which does not exist (%d ranks)",
                         at.where().c_str(), s.sendPeer, n));
      ok = false;
    }
    return ok;
  }

  // Reports slices of unequal counts, outside their buffer (of `sizes` elements) or writing the
  // input, and messages larger than the FIFO; false when there is one.
  bool checkSlices(const StepAt& at, const std::array<uint64_t, 3>& sizes) {
    const Step& s = at.s;
    const uint64_t count = s.count();
    struct Used {
      const char* name;
      const Slice* slice;
    };
    std::vector<Used> used;
    if (stepUsesSrc(s.kind)) used.push_back({"src", &s.src});
    if (stepUsesSrc2(s.kind)) used.push_back({"src2", &s.src2});
    if (stepUsesDst(s.kind)) used.push_back({"dst", &s.dst});
    bool ok = true;
    for (const Used& u : used) {
      const Slice& sl = *u.slice;
      if (sl.count != count) {
        error(formatString("%s: its slices have different counts (%s has %" PRIu64
                           " elements, the step %" PRIu64 ")",
                           at.where().c_str(), u.name, sl.count, count));
        ok = false;
        continue;
      }
      if (static_cast<unsigned>(sl.buffer) > static_cast<unsigned>(Buffer::kScratch)) {
        error(formatString("%s: %s names unknown buffer %u", at.where().c_str(), u.name,
                           static_cast<unsigned>(sl.buffer)));
        ok = false;
        continue;
      }
      const uint64_t limit = sizes[static_cast<size_t>(sl.buffer)];
      if (sl.offset > limit || sl.count > limit - sl.offset) {
        error(formatString("%s: %s %s is outside the %s buffer of %" PRIu64 " elements",
                           at.where().c_str(), u.name, describeSlice(sl).c_str(),
                           bufferName(sl.buffer), limit));
        ok = false;
      }
    }
    if (stepUsesDst(s.kind) && s.dst.buffer == Buffer::kInput) {
      error(formatString("%s: writes %s, but the input (the caller's send buffer) is read-only",
                         at.where().c_str(), describeSlice(s.dst).c_str()));
      ok = false;
    }
    if (stepSends(s.kind) && prog_.fifoElems > 0 && count > prog_.fifoElems) {
      error(formatString("%s: sends a message of %" PRIu64
                         " elements, more than a connection FIFO holds (%" PRIu64 ")",
                         at.where().c_str(), count, prog_.fifoElems));
      ok = false;
    }
    return ok;
  }

  // Appends the checked step in compact form, with the FIFOs it receives from and sends to.
  void compile(const Step& s, int rank, int connection) {
    sym::CStep c;
    c.kind = s.kind;
    c.finalize = s.finalize ? 1 : 0;
    c.recvPeer = s.recvPeer;
    c.sendPeer = s.sendPeer;
    c.count = static_cast<uint32_t>(s.count());
    c.srcBuf = s.src.buffer;
    c.srcOff = static_cast<uint32_t>(s.src.offset);
    c.src2Buf = s.src2.buffer;
    c.src2Off = static_cast<uint32_t>(s.src2.offset);
    c.dstBuf = s.dst.buffer;
    c.dstOff = static_cast<uint32_t>(s.dst.offset);
    if (stepReceives(s.kind)) {
      if (s.recvPeer != lastRecv_) {
        lastRecv_ = s.recvPeer;
        lastRecvFifo_ = fifoIndex(connection, s.recvPeer, rank);
      }
      c.fifoIn = lastRecvFifo_;
    }
    if (stepSends(s.kind)) {
      if (s.sendPeer != lastSend_) {
        lastSend_ = s.sendPeer;
        lastSendFifo_ = fifoIndex(connection, rank, s.sendPeer);
      }
      c.fifoOut = lastSendFifo_;
    }
    prog_.steps.push_back(c);
  }

  uint32_t fifoIndex(int connection, int src, int dst) {
    const uint64_t key = (static_cast<uint64_t>(connection) << 48) |
                         (static_cast<uint64_t>(src) << 24) | static_cast<uint64_t>(dst);
    auto [it, inserted] = fifoIndex_.try_emplace(key, static_cast<uint32_t>(prog_.fifos.size()));
    if (inserted) prog_.fifos.push_back({connection, src, dst});
    return it->second;
  }

  const VerifyOptions& opt_;
  std::vector<std::string>& errors_;
  sym::Program prog_;
  std::unordered_map<uint64_t, uint32_t> fifoIndex_;
  int lastSend_ = -1, lastRecv_ = -1;
  uint32_t lastSendFifo_ = 0, lastRecvFifo_ = 0;
};

VerifyReport runAll(Loader& loader, int nranks, const VerifyOptions& options,
                    std::vector<std::string>& errors) {
  VerifyReport report;
  report.nranks = nranks;
  if (!errors.empty()) {
    report.ok = false;
    report.errors = std::move(errors);
    return report;
  }
  const sym::Program prog = loader.take();
  report.steps = prog.steps.size();
  const sym::Coefficients coef(options.seed, nranks);
  std::vector<bool> placements;
  if (options.outOfPlace) placements.push_back(false);
  if (options.inPlace && sym::hasInPlace(prog.collective)) placements.push_back(true);
  for (bool inPlace : placements) {
    report.messages += sym::runSymbolic(prog, inPlace, coef, options, errors);
    if (!errors.empty()) break;
  }
  report.ok = errors.empty();
  report.errors = std::move(errors);
  return report;
}

}  // namespace
}  // namespace sym

std::string VerifyReport::text() const {
  if (ok) {
    return formatString("ok: %d ranks, %" PRIu64 " steps, %" PRIu64 " messages", nranks, steps,
                        messages);
  }
  std::string out;
  for (size_t i = 0; i < errors.size(); ++i) out += (i ? "\n" : "") + errors[i];
  return out;
}

VerifyReport verifyBuilder(const Builder& builder, const BuildRequest& shape,
                           const VerifyOptions& options) {
  std::vector<std::string> errors;
  if (shape.nranks < 1 || shape.nranks >= (1 << 24)) {
    VerifyReport report;
    report.ok = false;
    report.errors.push_back(formatString("cannot verify %d ranks", shape.nranks));
    return report;
  }
  sym::Loader loader(shape.nranks, options, errors);
  for (int r = 0; r < shape.nranks && errors.empty(); ++r) {
    BuildRequest req = shape;
    req.rank = r;
    try {
      loader.add(builder(req), r);
    } catch (const std::exception& e) {
      errors.push_back(formatString("rank %d: the builder failed: %s", r, e.what()));
    }
  }
  return sym::runAll(loader, shape.nranks, options, errors);
}

VerifyReport verifyPlanSet(const std::vector<Plan>& plans, const VerifyOptions& options) {
  std::vector<std::string> errors;
  const int n = static_cast<int>(plans.size());
  if (n < 1 || n >= (1 << 24)) {
    VerifyReport report;
    report.ok = false;
    report.errors.push_back(formatString("cannot verify a set of %zu plans", plans.size()));
    return report;
  }
  sym::Loader loader(n, options, errors);
  for (int r = 0; r < n && !loader.full(); ++r) loader.add(plans[static_cast<size_t>(r)], r);
  return sym::runAll(loader, n, options, errors);
}

void requireVerified(const VerifyReport& report, const std::string& what) {
  if (!report.ok) {
    throwError(ErrorCode::kInvalidUsage, "%s failed verification:\n%s", what.c_str(),
               report.text().c_str());
  }
}

}  // namespace plexus::algo
