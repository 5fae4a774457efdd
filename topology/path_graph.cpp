// The routing graph of PathFinder, built from a System: routing nodes (switch aggregates, the two
// sides of NVLink GPUs) and edges that merge parallel links of one type.
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "topology/path_search.hpp"

namespace plexus::topo {

using namespace routing;

namespace {

RKind routingKind(NodeType type) {
  switch (type) {
    case NodeType::kCpu:
      return RKind::kCpu;
    case NodeType::kPci:
      return RKind::kPci;
    case NodeType::kGpu:
      return RKind::kGpuHost;
    case NodeType::kNic:
      return RKind::kNic;
    case NodeType::kNvSwitch:
      return RKind::kNvSwitch;
    case NodeType::kNetSwitch:
      return RKind::kNetSwitch;
  }
  return RKind::kCpu;
}

bool hasNvlink(const System& sys, NodeId id) {
  for (int li : sys.linksOf(id))
    if (sys.link(li).type == LinkType::kNvLink) return true;
  return false;
}

// The class a path gets from crossing a link.
uint8_t linkClass(const Link& l, const Node& na, const Node& nb) {
  switch (l.type) {
    case LinkType::kNvLink:
      return static_cast<uint8_t>(PathClass::kNvl);
    case LinkType::kC2C:
      return static_cast<uint8_t>(PathClass::kC2C);
    case LinkType::kPcie:
      return static_cast<uint8_t>((na.type == NodeType::kCpu || nb.type == NodeType::kCpu)
                                      ? PathClass::kPhb
                                      : PathClass::kPix);
    case LinkType::kCpuInterconnect:
      return static_cast<uint8_t>(PathClass::kSys);
    case LinkType::kNetwork:
      return static_cast<uint8_t>(PathClass::kNet);
  }
  return 0;
}

// Parallel links of one type between two routing nodes, summed.
struct MergedLinks {
  double bw = 0;
  double lat = 0;
  int count = 0;
  int gen = 0;
  int width = 0;
  uint8_t cls = 0;

  void add(const Link& l, uint8_t linkCls) {
    if (count == 0) {
      lat = l.latencyUs;
      gen = l.gen;
      width = l.width;
      cls = linkCls;
    }
    bw += l.bw;
    count += l.count;
    cls = std::max(cls, linkCls);
  }
  REdge edge(LinkType type) const {
    REdge e{};
    e.bw = static_cast<float>(bw);
    e.latNs = static_cast<int32_t>(std::lround(lat * 1000.0));
    e.type = type;
    e.cls = cls;
    e.count = static_cast<uint16_t>(std::min(count, 65535));
    e.gen = static_cast<uint8_t>(gen);
    e.width = static_cast<uint8_t>(width);
    return e;
  }
};

}  // namespace

void PathFinder::Impl::build(const System& sys) {
  addRoutingNodes(sys);
  addRoutingEdges(sys);
}

void PathFinder::Impl::addRoutingNodes(const System& sys) {
  hostRnode.assign(sys.nodeCount(), -1);
  nvRnode.assign(sys.nodeCount(), -1);
  std::map<std::tuple<int, int, int>, int> aggregates;  // (type, tier, group) -> rnode
  for (const Node& node : sys.nodes()) {
    const RKind kind = routingKind(node.type);
    const bool switchLike = node.type == NodeType::kNvSwitch || node.type == NodeType::kNetSwitch;
    if (switchLike && node.group >= 0) {
      auto key = std::make_tuple(static_cast<int>(node.type), node.tier, node.group);
      auto it = aggregates.find(key);
      if (it != aggregates.end()) {
        hostRnode[node.id] = it->second;
        rnodes[it->second].members.push_back(node.id);
        continue;
      }
      aggregates.emplace(key, static_cast<int>(rnodes.size()));
    }
    hostRnode[node.id] = static_cast<int>(rnodes.size());
    rnodes.push_back(RNode{kind, kind != RKind::kGpuHost, node.id, {node.id}});
    if (node.type == NodeType::kGpu && hasNvlink(sys, node.id)) {
      nvRnode[node.id] = static_cast<int>(rnodes.size());
      rnodes.push_back(RNode{RKind::kGpuNv, true, node.id, {node.id}});
    }
  }
}

// Maps links to routing edges (both directions, CSR), merging parallel links of one type
// (aggregated switches).
void PathFinder::Impl::addRoutingEdges(const System& sys) {
  std::map<std::tuple<int, int, int>, MergedLinks> merged;
  for (const Link& l : sys.links()) {
    const Node& na = sys.node(l.a);
    const Node& nb = sys.node(l.b);
    // NVSwitch chips route NVLink only (their PCIe management links carry no collective data).
    if (l.type != LinkType::kNvLink &&
        (na.type == NodeType::kNvSwitch || nb.type == NodeType::kNvSwitch))
      continue;
    auto side = [&](const Node& x) {
      if (x.type == NodeType::kGpu && l.type == LinkType::kNvLink) return nvRnode[x.id];
      return hostRnode[x.id];
    };
    int ra = side(na), rb = side(nb);
    if (ra == rb) continue;  // inside one aggregate
    if (ra > rb) std::swap(ra, rb);
    merged[std::make_tuple(ra, rb, static_cast<int>(l.type))].add(l, linkClass(l, na, nb));
  }
  std::vector<std::vector<REdge>> adj(rnodes.size());
  for (const auto& [key, links] : merged) {
    auto [ra, rb, type] = key;
    REdge e = links.edge(static_cast<LinkType>(type));
    e.to = rb;
    adj[ra].push_back(e);
    e.to = ra;
    adj[rb].push_back(e);
  }
  edgeStart.assign(rnodes.size() + 1, 0);
  for (size_t r = 0; r < rnodes.size(); ++r) {
    edgeStart[r + 1] = edgeStart[r] + static_cast<int>(adj[r].size());
    edges.insert(edges.end(), adj[r].begin(), adj[r].end());
  }
}

uint8_t PathFinder::Impl::transitClass(int r) const {
  switch (rnodes[r].kind) {
    case RKind::kGpuNv:
      return static_cast<uint8_t>(PathClass::kNvb);
    case RKind::kCpu:
      return static_cast<uint8_t>(PathClass::kPhb);
    default:
      return 0;
  }
}

}  // namespace plexus::topo
