// PLEXUS_SYSTEM: plan as if rank r were device r of a synthetic system (topology/synthetic.hpp:
// nvl576, gb200-nvl72:x8, dgx-h100:x8, ...), while the bytes still move over this host's
// transports. The tuner's costs and the hierarchical domains are then those `plexus-topo tune
// --system S` and `plexus-topo simulate` use, and so are the rail-matched ring orders over its
// domains (algo::railMatchedRings) that simulate executes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "algorithms/cost_model.hpp"

namespace plexus::runtime {

struct InjectedSystem {
  std::string spec;
  algo::TopologyCosts costs;
  std::vector<std::vector<int>> groups;  // domains of hierarchical algorithms (may be empty)
  std::vector<std::vector<int>> rings;   // ring orders per channel (empty: rank order)
};

// Reads PLEXUS_SYSTEM; nothing when unset or empty. Throws Error(kInvalidArgument) naming the
// spec when it does not parse or has fewer devices than `nranks`. The costs' channels are capped
// at `maxChannels` (what the FIFOs of this host were sized for), so that an all-to-all plan still
// fits the shared-memory budget. Logs one INFO line naming the system (rank 0 only).
std::optional<InjectedSystem> injectedSystemFromEnv(int rank, int nranks, int maxChannels);

}  // namespace plexus::runtime
