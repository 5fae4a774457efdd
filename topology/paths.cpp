// Path queries over the routing graph of path_search.hpp (aggregated NVSwitches, GPUs split
// into their host side and NVLink side). Exact widest-then-least-latency paths: one widest-path
// Dijkstra per source gives each target's bottleneck B; then, per distinct B, a least-latency
// Dijkstra on the links of at least B settles the targets of that B. (A single lexicographic
// Dijkstra is not exact here: widest-then-shortest is not isotone.)
#include "topology/paths.hpp"

#include <algorithm>
#include <limits>
#include <memory>

#include "base/error.hpp"
#include "topology/path_search.hpp"

namespace plexus::topo {

using namespace routing;

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
