// The tuner (tuner.hpp): evaluates every algorithm of the collective over channel counts and
// chunk sizes with the cost model and picks the fastest one PLEXUS_ALGO allows.
#include "algorithms/tuner.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>

#include "algorithms/build_common.hpp"
#include "algorithms/canonical.hpp"
#include "algorithms/plan_file.hpp"
#include "algorithms/registry.hpp"
#include "algorithms/sim_protocol.hpp"
#include "base/error.hpp"
#include "base/log.hpp"

namespace plexus::algo {
namespace {

// Channel counts to try: powers of two in [lo, hi], plus hi.
std::vector<int> channelChoices(const TuneRequest& q, const TopologyCosts& k) {
  if (q.channels > 0) return {std::clamp(q.channels, 1, kMaxChannels)};
  const int hi = std::clamp(q.maxChannels > 0 ? q.maxChannels : k.maxChannels, 1, kMaxChannels);
  const int lo = std::clamp(q.minChannels, 1, hi);
  std::vector<int> out;
  for (int c = 1; c <= hi; c *= 2) {
    if (c >= lo) out.push_back(c);
  }
  if (out.empty() || out.back() != hi) out.push_back(hi);
  return out;
}

// Chunk sizes to try: the FIFO's limit (0), then smaller powers of two down to 1/64 of it or
// 256 bytes, for the pipelined algorithms that pay a fill term.
std::vector<uint64_t> chunkChoices(const TuneRequest& q) {
  std::vector<uint64_t> out = {0};
  const uint64_t limit = q.fifoElems > 0 ? q.fifoElems : q.count;
  const uint64_t floorElems = std::max<uint64_t>(1, 256 / std::max<size_t>(1, q.elemSize));
  for (uint64_t c = limit / 2; c >= floorElems && out.size() < 7; c /= 2) {
    out.push_back(c);
  }
  return out;
}

BuildRequest shapeOf(const TuneRequest& q) {
  BuildRequest r;
  r.collective = q.collective;
  r.nranks = q.nranks;
  r.root = q.root;
  r.count = q.count;
  r.fifoElems = q.fifoElems;
  r.groups = q.groups;
  return r;
}

int domainSizeOf(const TuneRequest& q) {
  return q.groups.empty() ? 0 : static_cast<int>(q.groups[0].size());
}

// A custom plan's time: its busiest rank's steps times (latency + overhead), plus its bytes.
double customTime(const PlanLibrary& lib, const std::string& name, const BuildRequest& r,
                  const TopologyCosts& k, size_t elemSize) {
  BuildRequest q = r;
  q.rank = 0;
  const Plan p = lib.build(name, q);
  double steps = 0, bytes = 0;
  for (const Channel& ch : p.channels) {
    steps = std::max(steps, static_cast<double>(ch.steps.size()));
    for (const Step& s : ch.steps) {
      if (stepSends(s.kind)) bytes += static_cast<double>(s.count()) * elemSize;
    }
  }
  return k.callUs + steps * (k.messageUs + k.intra.latencyUs) +
         bytes / (std::min(k.intra.bwGBps, p.channels.size() * k.channelGBps) * 1e3);
}

// The model's time of a built-in algorithm with the fastest protocol the simulator would run it
// with (sim_protocol.hpp): per protocol its per-step cost, its share of every rate and its set-up
// per call; LL only up to its size limit. Negative when the model has no entry.
double protocolPredictUs(const std::string& name, const CostQuery& cq, const TopologyCosts& k) {
  if (!k.gpuProtocols) return predictUs(name, cq, k);
  const double buffer = static_cast<double>(cq.count) * static_cast<double>(cq.elemSize);
  double best = -1;
  for (const SimProtocol& p : simProtocols(k, true)) {
    if (p.maxBytes > 0 && buffer > p.maxBytes && best >= 0) continue;
    TopologyCosts kp = k;
    kp.messageUs = p.stepUs;
    kp.intra.bwGBps *= p.bwFraction;
    kp.inter.bwGBps *= p.bwFraction;
    kp.channelGBps *= p.bwFraction;
    const double t = predictUs(name, cq, kp);
    if (t < 0) return t;
    if (best < 0 || t + p.setupUs < best) best = t + p.setupUs;
  }
  return best;
}

// A built-in algorithm's candidate: its fastest channel count and chunk size by the cost model.
Candidate builtinCandidate(const AlgorithmInfo& info, const TuneRequest& q,
                           const BuildRequest& shape, const TopologyCosts& costs,
                           const AlgoFilter& filter) {
  Candidate best;
  best.algorithm = info.name;
  best.allowed = filter.allows(info);
  best.note = info.unsupported(shape);
  if (best.note.empty() && q.reproducible && !offeredInReproducibleMode(info))
    best.note = "not offered in reproducible mode (PLEXUS_REPRODUCIBLE=1)";
  best.runnable = best.note.empty();
  if (!best.allowed && best.note.empty()) best.note = "excluded by PLEXUS_ALGO";
  best.timeUs = INFINITY;
  for (int nch : channelChoices(q, costs)) {
    for (uint64_t chunk : chunkChoices(q)) {
      CostQuery cq;
      cq.collective = q.collective;
      cq.nranks = q.nranks;
      cq.count = q.count;
      cq.elemSize = q.elemSize;
      cq.nchannels = nch;
      cq.chunkElems = chunk;
      cq.fifoElems = q.fifoElems;
      cq.domainSize = domainSizeOf(q);
      const double t = protocolPredictUs(info.name, cq, costs);
      if (t >= 0 && t < best.timeUs) {
        best.timeUs = t;
        best.nchannels = nch;
        best.chunkElems = chunk;
      }
    }
  }
  return best;
}

// A custom plan's candidate: runnable when the library has a template for the request and the
// call's size is in the template's range.
Candidate customCandidate(const std::string& name, const TuneRequest& q, const BuildRequest& shape,
                          const TopologyCosts& costs, const AlgoFilter& filter,
                          const PlanLibrary& custom) {
  Candidate c;
  c.algorithm = name;
  c.custom = true;
  c.allowed = filter.allows(q.collective, name);
  c.note = custom.unsupported(name, shape);
  if (c.note.empty() && q.reproducible && reproducibleCollective(q.collective))
    c.note = "custom plans are not offered in reproducible mode (PLEXUS_REPRODUCIBLE=1)";
  if (c.note.empty()) {
    const PlanTemplate* t = custom.find(name, shape);
    const double bytes = callBytes(q.collective, q.nranks, q.count, q.elemSize);
    if (bytes < static_cast<double>(t->minBytes) ||
        (t->maxBytes > 0 && bytes > static_cast<double>(t->maxBytes))) {
      c.note = formatString("%.0f bytes is outside the plan's [%" PRIu64 ", %" PRIu64 "]", bytes,
                            t->minBytes, t->maxBytes);
    }
  }
  c.runnable = c.note.empty();
  if (!c.allowed && c.note.empty()) c.note = "excluded by PLEXUS_ALGO";
  c.timeUs = c.runnable ? customTime(custom, name, shape, costs, q.elemSize) : INFINITY;
  return c;
}

// The runnable candidate to use (PLEXUS_ALGO's choices only when useFilter): custom plans first,
// then the least time (ties: table order); null when none.
const Candidate* pick(const std::vector<Candidate>& candidates, bool useFilter) {
  const Candidate* best = nullptr;
  for (const Candidate& c : candidates) {
    if (!c.runnable || std::isinf(c.timeUs) || (useFilter && !c.allowed)) continue;
    if (best == nullptr || (c.custom && !best->custom) ||
        (c.custom == best->custom && c.timeUs < best->timeUs)) {
      best = &c;
    }
  }
  return best;
}

}  // namespace

TuneResult evaluate(const TuneRequest& q, const TopologyCosts& costs, const AlgoFilter& filter,
                    const PlanLibrary* custom) {
  if (q.nranks < 1) throwError(ErrorCode::kInvalidArgument, "tuner: nranks %d < 1", q.nranks);
  TuneResult res;
  const BuildRequest shape = shapeOf(q);
  for (const AlgorithmInfo& info : algorithmTable()) {
    if (info.collective == q.collective)
      res.candidates.push_back(builtinCandidate(info, q, shape, costs, filter));
  }
  if (custom != nullptr) {
    for (const std::string& name : custom->namesFor(q.collective))
      res.candidates.push_back(customCandidate(name, q, shape, costs, filter, *custom));
  }
  const Candidate* chosen = pick(res.candidates, true);
  if (chosen == nullptr) {
    chosen = pick(res.candidates, false);
    if (chosen == nullptr) {
      throwError(ErrorCode::kInternal, "tuner: no algorithm can run %s on %d ranks",
                 collectiveName(q.collective), q.nranks);
    }
    std::string why;
    for (const Candidate& c : res.candidates) {
      if (c.allowed) why += formatString("; %s: %s", c.algorithm.c_str(), c.note.c_str());
    }
    res.warning = formatString("PLEXUS_ALGO=\"%s\" leaves no algorithm that can run %s of %" PRIu64
                               " elements on %d ranks%s; using %s instead",
                               filter.spec().c_str(), collectiveName(q.collective), q.count,
                               q.nranks, why.c_str(), chosen->algorithm.c_str());
  }
  res.best = *chosen;
  return res;
}

TuneResult tune(const TuneRequest& q, const TopologyCosts& costs, const AlgoFilter& filter,
                const PlanLibrary* custom) {
  TuneResult r = evaluate(q, costs, filter, custom);
  if (!r.warning.empty()) PLEXUS_WARN(subsys::kTune, "%s", r.warning.c_str());
  PLEXUS_INFO(subsys::kTune,
              "%s of %" PRIu64 " x %zu bytes on %d ranks: %s, %d channels, chunk %" PRIu64
              " elements, predicted %.1f us",
              collectiveName(q.collective), q.count, q.elemSize, q.nranks, r.best.algorithm.c_str(),
              r.best.nchannels, r.best.chunkElems, r.best.timeUs);
  return r;
}

BuildRequest buildRequestFor(const TuneRequest& q, const Candidate& choice, int rank) {
  BuildRequest r = shapeOf(q);
  r.rank = rank;
  r.nchannels = choice.nchannels;
  r.chunkElems = choice.chunkElems;
  if (!q.rings.empty()) {
    for (int c = 0; c < choice.nchannels; ++c)
      r.rings.push_back(q.rings[static_cast<size_t>(c) % q.rings.size()]);
  }
  return r;
}

Plan tuneAndBuild(const TuneRequest& q, int rank, const TopologyCosts& costs,
                  const AlgoFilter& filter, const PlanLibrary* custom) {
  const TuneResult r = tune(q, costs, filter, custom);
  return buildPlan(r.best.algorithm, buildRequestFor(q, r.best, rank), custom);
}

}  // namespace plexus::algo
