// Temporary stub (replaced by the discovery stage).
#include "topology/discovery.hpp"

#include "util/error.hpp"

namespace plexus::topo {
System discoverLocal(const DiscoveryOptions&) {
  System s("cpu");
  s.addHost("localhost");
  Node n;
  n.type = NodeType::kCpu;
  n.name = "CPU0";
  n.host = 0;
  n.numa = 0;
  s.addNode(n);
  return s;
}
System loadLocalSystem() {
  return discoverLocal();
}
}  // namespace plexus::topo
