// Path search over a routing graph derived from the System (aggregated NVSwitches, GPUs split
// into their host side and NVLink side). Exact widest-then-least-latency paths: one widest-path
// Dijkstra per source gives each target's bottleneck B; then, per distinct B, a least-latency
// Dijkstra on the links of at least B settles the targets of that B. (A single lexicographic
// Dijkstra is not exact here: widest-then-shortest is not isotone.)
#include "topology/paths.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <tuple>

#include "base/error.hpp"

namespace plexus::topo {

const char* pathClassName(PathClass c) {
  switch (c) {
    case PathClass::kLoc:
      return "LOC";
    case PathClass::kNvl:
      return "NVL";
    case PathClass::kNvb:
      return "NVB";
    case PathClass::kC2C:
      return "C2C";
    case PathClass::kPix:
      return "PIX";
    case PathClass::kPxb:
      return "PXB";
    case PathClass::kPhb:
      return "PHB";
    case PathClass::kSys:
      return "SYS";
    case PathClass::kNet:
      return "NET";
    case PathClass::kDis:
      return "DIS";
  }
  return "?";
}

const char* pathClassMeaning(PathClass c) {
  switch (c) {
    case PathClass::kLoc:
      return "the same device";
    case PathClass::kNvl:
      return "NVLink, directly or through NVSwitch chips";
    case PathClass::kNvb:
      return "NVLink through an intermediate GPU";
    case PathClass::kC2C:
      return "chip-to-chip link (NVLink-C2C between CPU and GPU)";
    case PathClass::kPix:
      return "PCIe through at most one PCIe switch or bridge";
    case PathClass::kPxb:
      return "PCIe through several PCIe switches, not through the host bridge";
    case PathClass::kPhb:
      return "PCIe through a PCIe host bridge (the CPU)";
    case PathClass::kSys:
      return "PCIe and the SMP interconnect between NUMA nodes (e.g. UPI, xGMI)";
    case PathClass::kNet:
      return "through the network (NICs and switches)";
    case PathClass::kDis:
      return "no connection";
  }
  return "?";
}

std::optional<PathClass> parsePathClass(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(PathClass::kDis); ++i) {
    auto c = static_cast<PathClass>(i);
    if (s == pathClassName(c)) return c;
  }
  return std::nullopt;
}

PathTable::PathTable(std::vector<NodeId> endpoints)
    : endpoints_(std::move(endpoints)), cells_(endpoints_.size() * endpoints_.size()) {}

std::optional<size_t> PathTable::indexOf(NodeId node) const {
  for (size_t i = 0; i < endpoints_.size(); ++i)
    if (endpoints_[i] == node) return i;
  return std::nullopt;
}

namespace {

enum class RKind : uint8_t { kCpu, kPci, kGpuHost, kGpuNv, kNic, kNvSwitch, kNetSwitch };

struct RNode {
  RKind kind;
  bool transit;                 // may be crossed (not only an endpoint)
  NodeId display;               // system node shown for this routing node
  std::vector<NodeId> members;  // system nodes it stands for
};

struct REdge {
  int to;
  float bw;
  int32_t latNs;
  LinkType type;
  uint8_t cls;  // class this edge gives a path
  uint16_t count;
  uint8_t gen;
  uint8_t width;
};

constexpr int kPhases = 3;  // 0: before the network, 1: in it, 2: after it
constexpr float kInfBw = std::numeric_limits<float>::infinity();

struct Label {
  float bw = 0;
  int32_t latNs = std::numeric_limits<int32_t>::max();
  uint16_t hops = 0;
  uint8_t cls = 0;  // effective class (bridges folded in)
  uint8_t rawCls = 0;
  uint8_t bridges = 0;
  uint16_t nvmin = 0;
  int32_t predState = -1;
  int32_t predEdge = -1;
};

uint8_t effective(uint8_t rawCls, uint8_t bridges) {
  if (bridges >= 2) return std::max<uint8_t>(rawCls, static_cast<uint8_t>(PathClass::kPxb));
  return rawCls;
}

}  // namespace

struct PathFinder::Impl {
  std::vector<RNode> rnodes;
  std::vector<int> edgeStart;  // CSR
  std::vector<REdge> edges;
  std::vector<int> hostRnode;  // per system node: its routing node (host side for GPUs)
  std::vector<int> nvRnode;    // per system node: NVLink side of a GPU, or -1

  // Scratch is per call (find/table are const and may run concurrently on one finder).
  struct Search {
    std::vector<Label> labels;
    std::vector<uint8_t> seen;
    std::vector<uint8_t> settled;
    std::vector<int> touched;
    std::vector<int> targetOf;  // rnode -> index in the current targets, or -1
  };

  void build(const System& sys);
  // Widest pass (threshold < 0) or least-latency pass over links of at least `threshold`.
  // Stops when every node in `targets` (system ids) has been popped once.
  // allowNetwork false: paths stay off network links (pairs within one host).
  void run(Search& s, NodeId source, float threshold, bool allowNetwork,
           const std::vector<NodeId>& targets, std::vector<Label>& best) const;
  uint8_t transitClass(int r) const;
};

void PathFinder::Impl::build(const System& sys) {
  const size_t n = sys.nodeCount();
  hostRnode.assign(n, -1);
  nvRnode.assign(n, -1);
  std::map<std::tuple<int, int, int>, int> aggregates;  // (type, tier, group) -> rnode
  for (const Node& node : sys.nodes()) {
    RKind kind = RKind::kCpu;
    switch (node.type) {
      case NodeType::kCpu:
        kind = RKind::kCpu;
        break;
      case NodeType::kPci:
        kind = RKind::kPci;
        break;
      case NodeType::kGpu:
        kind = RKind::kGpuHost;
        break;
      case NodeType::kNic:
        kind = RKind::kNic;
        break;
      case NodeType::kNvSwitch:
        kind = RKind::kNvSwitch;
        break;
      case NodeType::kNetSwitch:
        kind = RKind::kNetSwitch;
        break;
    }
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
    if (node.type == NodeType::kGpu) {
      bool hasNvlink = false;
      for (int li : sys.linksOf(node.id))
        if (sys.link(li).type == LinkType::kNvLink) hasNvlink = true;
      if (hasNvlink) {
        nvRnode[node.id] = static_cast<int>(rnodes.size());
        rnodes.push_back(RNode{RKind::kGpuNv, true, node.id, {node.id}});
      }
    }
  }
  // Map links to routing edges, merging parallel links of one type (aggregated switches).
  struct Acc {
    double bw = 0;
    double lat = 0;
    int count = 0;
    int gen = 0;
    int width = 0;
    uint8_t cls = 0;
  };
  std::map<std::tuple<int, int, int>, Acc> merged;
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
    uint8_t cls = 0;
    switch (l.type) {
      case LinkType::kNvLink:
        cls = static_cast<uint8_t>(PathClass::kNvl);
        break;
      case LinkType::kC2C:
        cls = static_cast<uint8_t>(PathClass::kC2C);
        break;
      case LinkType::kPcie:
        cls = static_cast<uint8_t>((na.type == NodeType::kCpu || nb.type == NodeType::kCpu)
                                       ? PathClass::kPhb
                                       : PathClass::kPix);
        break;
      case LinkType::kCpuInterconnect:
        cls = static_cast<uint8_t>(PathClass::kSys);
        break;
      case LinkType::kNetwork:
        cls = static_cast<uint8_t>(PathClass::kNet);
        break;
    }
    Acc& acc = merged[std::make_tuple(ra, rb, static_cast<int>(l.type))];
    if (acc.count == 0) {
      acc.lat = l.latencyUs;
      acc.gen = l.gen;
      acc.width = l.width;
      acc.cls = cls;
    }
    acc.bw += l.bw;
    acc.count += l.count;
    acc.cls = std::max(acc.cls, cls);
  }
  std::vector<std::vector<REdge>> adj(rnodes.size());
  for (const auto& [key, acc] : merged) {
    auto [ra, rb, type] = key;
    REdge e{};
    e.bw = static_cast<float>(acc.bw);
    e.latNs = static_cast<int32_t>(std::lround(acc.lat * 1000.0));
    e.type = static_cast<LinkType>(type);
    e.cls = acc.cls;
    e.count = static_cast<uint16_t>(std::min(acc.count, 65535));
    e.gen = static_cast<uint8_t>(acc.gen);
    e.width = static_cast<uint8_t>(acc.width);
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

namespace {
// Heap entry; ordered so that the best label is on top.
struct Entry {
  float bw;  // widest pass only (else 0)
  int32_t latNs;
  uint16_t hops;
  uint8_t cls;
  int32_t state;
};
struct WidestWorse {
  bool operator()(const Entry& x, const Entry& y) const {
    if (x.bw != y.bw) return x.bw < y.bw;
    if (x.latNs != y.latNs) return x.latNs > y.latNs;
    if (x.hops != y.hops) return x.hops > y.hops;
    if (x.cls != y.cls) return x.cls > y.cls;
    return x.state > y.state;
  }
};
struct LatencyWorse {
  bool operator()(const Entry& x, const Entry& y) const {
    if (x.latNs != y.latNs) return x.latNs > y.latNs;
    if (x.hops != y.hops) return x.hops > y.hops;
    if (x.cls != y.cls) return x.cls > y.cls;
    return x.state > y.state;
  }
};
}  // namespace

void PathFinder::Impl::run(Search& s, NodeId source, float threshold, bool allowNetwork,
                           const std::vector<NodeId>& targets, std::vector<Label>& best) const {
  const bool widest = threshold < 0;
  const size_t nstates = rnodes.size() * kPhases;
  if (s.labels.size() != nstates) {
    s.labels.assign(nstates, Label{});
    s.seen.assign(nstates, 0);
    s.settled.assign(nstates, 0);
    s.targetOf.assign(rnodes.size(), -1);
  }
  for (int st : s.touched) {
    s.labels[static_cast<size_t>(st)] = Label{};
    s.seen[static_cast<size_t>(st)] = 0;
    s.settled[static_cast<size_t>(st)] = 0;
  }
  s.touched.clear();

  // Targets still waiting, by routing node.
  for (size_t i = 0; i < targets.size(); ++i) {
    s.targetOf[static_cast<size_t>(hostRnode[targets[i]])] = static_cast<int>(i);
    if (nvRnode[targets[i]] >= 0)
      s.targetOf[static_cast<size_t>(nvRnode[targets[i]])] = static_cast<int>(i);
  }
  std::vector<uint8_t> done(targets.size(), 0);
  size_t remaining = targets.size();

  auto push = [&](auto& heap, int state, const Label& l) {
    const auto st = static_cast<size_t>(state);
    if (!s.seen[st]) {
      s.seen[st] = 1;
      s.touched.push_back(state);
    }
    s.labels[st] = l;
    heap.push(Entry{widest ? l.bw : 0.0f, l.latNs, l.hops, l.cls, state});
  };
  auto better = [&](const Label& x, const Label& y) {
    if (widest && x.bw != y.bw) return x.bw > y.bw;
    if (x.latNs != y.latNs) return x.latNs < y.latNs;
    if (x.hops != y.hops) return x.hops < y.hops;
    return x.cls < y.cls;
  };

  auto loop = [&](auto& heap) {
    Label start;
    start.bw = kInfBw;
    start.latNs = 0;
    start.nvmin = 65535;
    const int src0 = hostRnode[source];
    const int src1 = nvRnode[source];
    push(heap, src0 * kPhases, start);
    if (src1 >= 0) push(heap, src1 * kPhases, start);
    while (!heap.empty() && remaining > 0) {
      const Entry top = heap.top();
      heap.pop();
      const auto st = static_cast<size_t>(top.state);
      if (s.settled[st]) continue;
      const Label cur = s.labels[st];
      if (cur.latNs != top.latNs || cur.hops != top.hops || cur.cls != top.cls ||
          (widest && cur.bw != top.bw))
        continue;  // stale entry
      s.settled[st] = 1;
      const int r = top.state / kPhases;
      const int phase = top.state % kPhases;
      if (const int ti = s.targetOf[static_cast<size_t>(r)]; ti >= 0 && !done[ti]) {
        done[ti] = 1;
        --remaining;
        best[ti] = cur;
        best[ti].predState = top.state;  // where the path ends
      }
      const bool isSource = r == src0 || r == src1;
      if (!isSource && !rnodes[static_cast<size_t>(r)].transit) continue;
      const uint8_t tcls = isSource ? 0 : transitClass(r);
      const uint8_t addBridge = (!isSource && rnodes[static_cast<size_t>(r)].kind == RKind::kPci);
      for (int ei = edgeStart[static_cast<size_t>(r)]; ei < edgeStart[static_cast<size_t>(r) + 1];
           ++ei) {
        const REdge& e = edges[static_cast<size_t>(ei)];
        if (!widest && e.bw < threshold) continue;
        int nphase;
        if (e.type == LinkType::kNetwork) {
          if (phase == 2 || !allowNetwork) continue;
          nphase = 1;
        } else {
          nphase = phase == 1 ? 2 : phase;
        }
        const int ns = e.to * kPhases + nphase;
        if (s.settled[static_cast<size_t>(ns)]) continue;
        Label nl;
        nl.bw = std::min(cur.bw, e.bw);
        nl.latNs = cur.latNs + e.latNs;
        nl.hops = static_cast<uint16_t>(cur.hops + 1);
        nl.rawCls = std::max({cur.rawCls, e.cls, tcls});
        nl.bridges = static_cast<uint8_t>(std::min(cur.bridges + addBridge, 250));
        nl.cls = effective(nl.rawCls, nl.bridges);
        nl.nvmin = e.type == LinkType::kNvLink ? std::min(cur.nvmin, e.count) : cur.nvmin;
        nl.predState = top.state;
        nl.predEdge = ei;
        if (!s.seen[static_cast<size_t>(ns)] || better(nl, s.labels[static_cast<size_t>(ns)]))
          push(heap, ns, nl);
      }
    }
  };
  if (widest) {
    std::priority_queue<Entry, std::vector<Entry>, WidestWorse> heap;
    loop(heap);
  } else {
    std::priority_queue<Entry, std::vector<Entry>, LatencyWorse> heap;
    loop(heap);
  }
  for (NodeId t : targets) {
    s.targetOf[static_cast<size_t>(hostRnode[t])] = -1;
    if (nvRnode[t] >= 0) s.targetOf[static_cast<size_t>(nvRnode[t])] = -1;
  }
}

PathFinder::PathFinder(const System& system) : system_(system), impl_(std::make_unique<Impl>()) {
  impl_->build(system);
}

PathFinder::~PathFinder() = default;

namespace {
PairPath toPair(const Label& l, bool reached, bool self) {
  PairPath p;
  if (self) {
    p.cls = PathClass::kLoc;
    p.bw = kInfBw;
    return p;
  }
  if (!reached) return p;
  p.cls = static_cast<PathClass>(l.cls);
  p.bw = l.bw;
  p.latencyUs = static_cast<float>(l.latNs / 1000.0);
  p.hops = l.hops;
  if (p.cls == PathClass::kNvl || p.cls == PathClass::kNvb) p.nvlinks = l.nvmin;
  return p;
}

// Distinct bottleneck values, widest first.
std::vector<float> distinctDescending(const std::vector<Label>& labels,
                                      const std::vector<uint8_t>& reached) {
  std::vector<float> v;
  for (size_t i = 0; i < labels.size(); ++i)
    if (reached[i]) v.push_back(labels[i].bw);
  std::sort(v.begin(), v.end(), std::greater<float>());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}
}  // namespace

namespace {
// One source's row of a table for one group of targets (same host, or other hosts).
void fillRow(const PathFinder::Impl& impl, PathFinder::Impl::Search& search, NodeId source,
             bool allowNetwork, const std::vector<NodeId>& targets, const std::vector<size_t>& cols,
             size_t row, PathTable& t) {
  std::vector<Label> widest(targets.size());
  impl.run(search, source, -1.0f, allowNetwork, targets, widest);
  std::vector<uint8_t> reached(targets.size());
  for (size_t k = 0; k < targets.size(); ++k) reached[k] = widest[k].predState >= 0;
  for (float beta : distinctDescending(widest, reached)) {
    std::vector<NodeId> sub;
    std::vector<size_t> idx;
    for (size_t k = 0; k < targets.size(); ++k)
      if (reached[k] && widest[k].bw == beta) {
        sub.push_back(targets[k]);
        idx.push_back(k);
      }
    std::vector<Label> lat(sub.size());
    if (beta == kInfBw) {
      for (size_t k = 0; k < sub.size(); ++k) lat[k] = widest[idx[k]];
    } else {
      impl.run(search, source, beta, allowNetwork, sub, lat);
    }
    for (size_t k = 0; k < sub.size(); ++k) {
      const size_t j = cols[idx[k]];
      t.at(row, j) = t.at(j, row) = toPair(lat[k], lat[k].predState >= 0, false);
    }
  }
  for (size_t k = 0; k < targets.size(); ++k)
    if (!reached[k]) t.at(row, cols[k]) = t.at(cols[k], row) = PairPath{};
}
}  // namespace

PathTable PathFinder::table(std::vector<NodeId> endpoints) const {
  for (NodeId e : endpoints)
    if (e < 0 || static_cast<size_t>(e) >= system_.nodeCount())
      throwError(ErrorCode::kInvalidArgument, "path table: node id %d is not in topology %s", e,
                 system_.name().c_str());
  PathTable t(endpoints);
  Impl::Search search;
  const size_t n = endpoints.size();
  for (size_t i = 0; i < n; ++i) {
    t.at(i, i) = toPair(Label{}, true, true);
    std::vector<NodeId> targets;
    std::vector<size_t> cols;
    for (size_t j = i + 1; j < n; ++j) {
      if (endpoints[j] == endpoints[i]) {
        t.at(i, j) = t.at(j, i) = toPair(Label{}, true, true);
        continue;
      }
      targets.push_back(endpoints[j]);
      cols.push_back(j);
    }
    if (targets.empty()) continue;
    // Pairs within one host never leave it through the network; others may.
    const int srcHost = system_.node(endpoints[i]).host;
    for (int pass = 0; pass < 2; ++pass) {
      const bool local = pass == 0;
      std::vector<NodeId> group;
      std::vector<size_t> groupCols;
      for (size_t k = 0; k < targets.size(); ++k) {
        const int h = system_.node(targets[k]).host;
        const bool sameHost = srcHost >= 0 && h == srcHost;
        if (sameHost == local) {
          group.push_back(targets[k]);
          groupCols.push_back(cols[k]);
        }
      }
      if (!group.empty()) fillRow(*impl_, search, endpoints[i], !local, group, groupCols, i, t);
    }
  }
  return t;
}

Path PathFinder::find(NodeId from, NodeId to) const {
  const auto n = static_cast<NodeId>(system_.nodeCount());
  if (from < 0 || from >= n || to < 0 || to >= n)
    throwError(ErrorCode::kInvalidArgument, "path: node ids %d, %d not in topology %s", from, to,
               system_.name().c_str());
  Path p;
  p.from = from;
  p.to = to;
  auto hopOf = [&](int r) {
    const RNode& rn = impl_->rnodes[static_cast<size_t>(r)];
    const Node& d = system_.node(rn.display);
    PathHop h;
    h.node = rn.display;
    h.type = d.type;
    h.members = static_cast<int>(rn.members.size());
    h.name = d.name;
    if (h.members > 1) h.name += ".." + system_.node(rn.members.back()).name;
    return h;
  };
  if (from == to) {
    p.cls = PathClass::kLoc;
    p.bw = std::numeric_limits<double>::infinity();
    p.hops.push_back(hopOf(impl_->hostRnode[from]));
    return p;
  }
  Impl::Search search;
  std::vector<Label> widest(1);
  const int fromHost = system_.node(from).host;
  const bool allowNetwork = fromHost < 0 || system_.node(to).host != fromHost;
  impl_->run(search, from, -1.0f, allowNetwork, {to}, widest);
  if (widest[0].predState < 0) {
    p.hops.push_back(hopOf(impl_->hostRnode[from]));
    p.hops.push_back(hopOf(impl_->hostRnode[to]));
    return p;
  }
  std::vector<Label> best(1);
  if (widest[0].bw == kInfBw) {
    best = widest;
  } else {
    impl_->run(search, from, widest[0].bw, allowNetwork, {to}, best);
  }
  const Label& end = best[0];
  p.cls = static_cast<PathClass>(end.cls);
  p.bw = end.bw;
  p.latencyUs = end.latNs / 1000.0;
  if (p.cls == PathClass::kNvl || p.cls == PathClass::kNvb) p.nvlinks = end.nvmin;
  // Walk predecessors back from the final state (search scratch still holds the labels).
  std::vector<int> states;
  std::vector<int> edgesUsed;
  for (int st = end.predState; st >= 0;) {
    states.push_back(st);
    const Label& l = search.labels[static_cast<size_t>(st)];
    if (l.predState >= 0) edgesUsed.push_back(l.predEdge);
    st = l.predState;
  }
  std::reverse(states.begin(), states.end());
  std::reverse(edgesUsed.begin(), edgesUsed.end());
  for (int st : states) p.hops.push_back(hopOf(st / kPhases));
  // The source hop names the source node even if the walk started on its NVLink side.
  p.hops.front().node = from;
  p.hops.back().node = to;
  for (int ei : edgesUsed) {
    const REdge& e = impl_->edges[static_cast<size_t>(ei)];
    PathStep step;
    step.type = e.type;
    step.count = e.count;
    step.gen = e.gen;
    step.width = e.width;
    step.bw = e.bw;
    step.latencyUs = e.latNs / 1000.0;
    p.steps.push_back(step);
  }
  return p;
}

Path findPath(const System& system, NodeId from, NodeId to) {
  PathFinder finder(system);
  return finder.find(from, to);
}

std::vector<NodeId> matrixEndpoints(const System& system) {
  std::vector<NodeId> out = system.nodesOfType(NodeType::kGpu);
  for (NodeId n : system.nodesOfType(NodeType::kNic)) out.push_back(n);
  // Host by host (fabric last); within a host GPUs then NICs, by index.
  std::stable_sort(out.begin(), out.end(), [&](NodeId a, NodeId b) {
    const Node& x = system.node(a);
    const Node& y = system.node(b);
    const unsigned hx = static_cast<unsigned>(x.host), hy = static_cast<unsigned>(y.host);
    if (hx != hy) return hx < hy;
    if (x.type != y.type) return x.type == NodeType::kGpu;
    return x.index < y.index;
  });
  return out;
}

}  // namespace plexus::topo
