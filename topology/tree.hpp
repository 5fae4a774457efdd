// The PCI-style tree of each host: every device's parent on the way to its CPU (over PCIe,
// else over C2C). Used by the XML exporter and by the text rendering of `plexus-topo show`.
#pragma once

#include <vector>

#include "topology/graph.hpp"

namespace plexus::topo {

struct HostTree {
  std::vector<NodeId> parent;                 // per node; kNoNode for roots and non-tree nodes
  std::vector<int> parentLink;                // link id to the parent, or -1
  std::vector<std::vector<NodeId>> children;  // per node, in id order
  std::vector<NodeId> roots;                  // CPU nodes, in id order
};

HostTree buildHostTree(const System& system);

// The CPU a node hangs under (itself for CPUs), or kNoNode.
NodeId rootCpuOf(const HostTree& tree, const System& system, NodeId node);

}  // namespace plexus::topo
