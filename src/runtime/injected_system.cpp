// PLEXUS_SYSTEM (injected_system.hpp).
#include "runtime/injected_system.hpp"

#include <algorithm>

#include "algorithms/ring_orders.hpp"
#include "algorithms/topology_costs.hpp"
#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "topology/synthetic.hpp"

namespace plexus::runtime {

std::optional<InjectedSystem> injectedSystemFromEnv(int rank, int nranks, int maxChannels) {
  const std::string spec = envString("SYSTEM", "");
  if (spec.empty()) return std::nullopt;
  InjectedSystem s;
  s.spec = spec;
  try {
    const topo::System sys = topo::makeSyntheticSystem(spec);
    s.costs = algo::costsFromSystem(sys, nranks);
    s.groups = algo::groupsFromSystem(sys, nranks);
  } catch (const Error& e) {
    throwError(ErrorCode::kInvalidArgument,
               "rank %d: PLEXUS_SYSTEM=%s cannot describe this communicator of %d ranks: %s", rank,
               spec.c_str(), nranks, e.what());
  }
  const int systemChannels = s.costs.maxChannels;
  s.costs.maxChannels = std::clamp(systemChannels, 1, std::max(1, maxChannels));
  if (s.groups.size() > 1) s.rings = algo::railMatchedRings(s.groups, s.costs.maxChannels);
  if (rank == 0)
    PLEXUS_INFO(subsys::kInit | subsys::kTune,
                "PLEXUS_SYSTEM=%s injected: rank r plans as device r of that system (%s; %zu "
                "hierarchical domains; channels capped at %d of its %d, bytes move over this "
                "host's transports)",
                spec.c_str(), s.costs.description.c_str(), s.groups.size(), s.costs.maxChannels,
                systemChannels);
  return s;
}

}  // namespace plexus::runtime
