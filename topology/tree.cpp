// Host trees: breadth-first from the CPUs over PCIe links, then over C2C for devices that hang
// on a CPU only through C2C (Grace-attached GPUs). Devices (GPU, NIC, NVSwitch) are leaves.
#include "topology/tree.hpp"

#include <algorithm>
#include <deque>

namespace plexus::topo {

HostTree buildHostTree(const System& sys) {
  const size_t n = sys.nodeCount();
  HostTree t;
  t.parent.assign(n, kNoNode);
  t.parentLink.assign(n, -1);
  t.children.assign(n, {});
  std::vector<uint8_t> seen(n, 0);
  for (NodeId c : sys.nodesOfType(NodeType::kCpu)) {
    if (sys.node(c).host < 0) continue;
    t.roots.push_back(c);
    seen[static_cast<size_t>(c)] = 1;
  }
  auto expands = [&](NodeId id) {
    const NodeType ty = sys.node(id).type;
    return ty == NodeType::kCpu || ty == NodeType::kPci;
  };
  for (LinkType pass : {LinkType::kPcie, LinkType::kC2C}) {
    std::deque<NodeId> queue;
    for (size_t i = 0; i < n; ++i)
      if (seen[i] && expands(static_cast<NodeId>(i))) queue.push_back(static_cast<NodeId>(i));
    while (!queue.empty()) {
      const NodeId u = queue.front();
      queue.pop_front();
      for (int li : sys.linksOf(u)) {
        const Link& l = sys.link(li);
        if (l.type != pass) continue;
        const NodeId v = l.other(u);
        if (seen[static_cast<size_t>(v)]) continue;
        if (sys.node(v).type == NodeType::kCpu || sys.node(v).host != sys.node(u).host) continue;
        seen[static_cast<size_t>(v)] = 1;
        t.parent[static_cast<size_t>(v)] = u;
        t.parentLink[static_cast<size_t>(v)] = li;
        if (expands(v)) queue.push_back(v);
      }
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (t.parent[i] != kNoNode)
      t.children[static_cast<size_t>(t.parent[i])].push_back(static_cast<NodeId>(i));
  for (auto& c : t.children) std::sort(c.begin(), c.end());
  return t;
}

NodeId rootCpuOf(const HostTree& tree, const System& sys, NodeId node) {
  NodeId cur = node;
  for (size_t guard = 0; cur != kNoNode && guard <= sys.nodeCount(); ++guard) {
    if (sys.node(cur).type == NodeType::kCpu) return cur;
    cur = tree.parent[static_cast<size_t>(cur)];
  }
  return kNoNode;
}

}  // namespace plexus::topo
