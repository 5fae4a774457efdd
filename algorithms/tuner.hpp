// The tuner: for one call, the algorithm, channel count and chunk size with the least predicted
// time (cost_model.hpp), among the algorithms PLEXUS_ALGO allows (algo_filter.hpp) and that can
// run the call (registry.hpp: unsupported()). Custom algorithms from a plan file
// (plan_file.hpp) that apply to the call are preferred over the built-ins: an operator who ships
// a plan wants it used; PLEXUS_ALGO can still exclude them.
//
// Reproducible mode (TuneRequest::reproducible) makes the algorithms it does not offer unable to
// run the call, so the same fallback applies to them.
//
// Forced algorithm that cannot run: when PLEXUS_ALGO leaves nothing that can run this call
// (e.g. PLEXUS_ALGO=hier without domains, or allgather:bruck with a custom-only list), the tuner
// falls back to its own choice among all algorithms and returns a warning (logged at WARN by
// tune()); the call still runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "algorithms/algo_filter.hpp"
#include "algorithms/builders.hpp"
#include "algorithms/cost_model.hpp"
#include "plan/plan.hpp"

namespace plexus::algo {

class PlanLibrary;

struct TuneRequest {
  Collective collective = Collective::kAllReduce;
  int nranks = 1;
  uint64_t count = 0;
  size_t elemSize = 4;
  int root = 0;
  uint64_t fifoElems = 0;                // connection FIFO in elements (0: unbounded)
  std::vector<std::vector<int>> groups;  // domains for hierarchical algorithms (may be empty)
  // Ring orders for ring/chain plans (ringOrdersFromCluster); channel c uses rings[c % size].
  // Empty: rank order.
  std::vector<std::vector<int>> rings;
  int channels = 0;     // PLEXUS_NCHANNELS: fixed channel count (0: tuner's)
  int minChannels = 1;  // PLEXUS_MIN_NCHANNELS
  int maxChannels = 0;  // PLEXUS_MAX_NCHANNELS (0: TopologyCosts::maxChannels)
  // PLEXUS_REPRODUCIBLE=1 (canonical.hpp): for all-reduce, reduce-scatter and reduce only the
  // algorithms that reduce in the canonical order can run (AlgorithmInfo::reproducible; custom
  // plans cannot). One that PLEXUS_ALGO forces is replaced, with the usual warning.
  bool reproducible = false;
};

struct Candidate {
  std::string algorithm;  // canonical name (or the custom name)
  int nchannels = 1;
  uint64_t chunkElems = 0;  // 0: the FIFO's limit
  double timeUs = 0;        // predicted
  bool allowed = true;      // PLEXUS_ALGO lets the tuner pick it
  bool runnable = true;     // it can build this call
  bool custom = false;
  std::string note;  // why not runnable / allowed
};

struct TuneResult {
  Candidate best;
  std::vector<Candidate> candidates;  // every algorithm of the collective, best setting each
  std::string warning;                // set when PLEXUS_ALGO had to be overridden
};

// Picks the algorithm for a call (does not log).
TuneResult evaluate(const TuneRequest& q, const TopologyCosts& costs, const AlgoFilter& filter = {},
                    const PlanLibrary* custom = nullptr);

// evaluate() plus a WARN for the override and an INFO line naming the choice.
TuneResult tune(const TuneRequest& q, const TopologyCosts& costs, const AlgoFilter& filter = {},
                const PlanLibrary* custom = nullptr);

// The BuildRequest for rank `rank` that carries out a tuning result.
BuildRequest buildRequestFor(const TuneRequest& q, const Candidate& choice, int rank);

// Tune and build in one: the plan rank `rank` runs for this call.
Plan tuneAndBuild(const TuneRequest& q, int rank, const TopologyCosts& costs,
                  const AlgoFilter& filter = {}, const PlanLibrary* custom = nullptr);

}  // namespace plexus::algo
