// PathFinder's search over the routing graph: one Dijkstra pass, either widest-then-least-latency
// (threshold < 0) or least-latency over the links of at least `threshold`, from one source until
// every target is settled.
#include "topology/path_search.hpp"

#include <algorithm>
#include <queue>

namespace plexus::topo {

using namespace routing;

namespace {

uint8_t effective(uint8_t rawCls, uint8_t bridges) {
  if (bridges >= 2) return std::max<uint8_t>(rawCls, static_cast<uint8_t>(PathClass::kPxb));
  return rawCls;
}

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

// One pass from one source; `Worse` orders the heap (WidestWorse or LatencyWorse).
template <class Worse>
class SearchPass {
 public:
  SearchPass(const PathFinder::Impl& g, PathFinder::Impl::Search& s, float threshold,
             bool allowNetwork, size_t targetCount, std::vector<Label>& best)
      : g_(g),
        s_(s),
        widest_(threshold < 0),
        threshold_(threshold),
        allowNetwork_(allowNetwork),
        best_(best),
        done_(targetCount, 0),
        remaining_(targetCount) {}

  void run(NodeId source) {
    Label start;
    start.bw = kInfBw;
    start.latNs = 0;
    start.nvmin = 65535;
    src0_ = g_.hostRnode[source];
    src1_ = g_.nvRnode[source];
    push(src0_ * kPhases, start);
    if (src1_ >= 0) push(src1_ * kPhases, start);
    while (!heap_.empty() && remaining_ > 0) {
      const Entry top = heap_.top();
      heap_.pop();
      if (!settle(top)) continue;
      reachTarget(top.state);
      expand(top.state);
    }
  }

 private:
  // Settles the state of a current heap entry; false for stale entries and settled states.
  bool settle(const Entry& top) {
    const auto st = static_cast<size_t>(top.state);
    if (s_.settled[st]) return false;
    const Label& cur = s_.labels[st];
    if (cur.latNs != top.latNs || cur.hops != top.hops || cur.cls != top.cls ||
        (widest_ && cur.bw != top.bw))
      return false;  // stale entry
    s_.settled[st] = 1;
    return true;
  }

  void reachTarget(int state) {
    const int r = state / kPhases;
    if (const int ti = s_.targetOf[static_cast<size_t>(r)]; ti >= 0 && !done_[ti]) {
      done_[ti] = 1;
      --remaining_;
      best_[ti] = s_.labels[static_cast<size_t>(state)];
      best_[ti].predState = state;  // where the path ends
    }
  }

  // Relaxes the edges out of a settled state (only sources and transit nodes are crossed).
  void expand(int state) {
    const int r = state / kPhases;
    const int phase = state % kPhases;
    const bool isSource = r == src0_ || r == src1_;
    if (!isSource && !g_.rnodes[static_cast<size_t>(r)].transit) return;
    const Label cur = s_.labels[static_cast<size_t>(state)];
    const uint8_t tcls = isSource ? 0 : g_.transitClass(r);
    const uint8_t addBridge = (!isSource && g_.rnodes[static_cast<size_t>(r)].kind == RKind::kPci);
    for (int ei = g_.edgeStart[static_cast<size_t>(r)];
         ei < g_.edgeStart[static_cast<size_t>(r) + 1]; ++ei) {
      const REdge& e = g_.edges[static_cast<size_t>(ei)];
      if (!widest_ && e.bw < threshold_) continue;
      int nphase;
      if (e.type == LinkType::kNetwork) {
        if (phase == 2 || !allowNetwork_) continue;
        nphase = 1;
      } else {
        nphase = phase == 1 ? 2 : phase;
      }
      const int ns = e.to * kPhases + nphase;
      if (s_.settled[static_cast<size_t>(ns)]) continue;
      Label nl;
      nl.bw = std::min(cur.bw, e.bw);
      nl.latNs = cur.latNs + e.latNs;
      nl.hops = static_cast<uint16_t>(cur.hops + 1);
      nl.rawCls = std::max({cur.rawCls, e.cls, tcls});
      nl.bridges = static_cast<uint8_t>(std::min(cur.bridges + addBridge, 250));
      nl.cls = effective(nl.rawCls, nl.bridges);
      nl.nvmin = e.type == LinkType::kNvLink ? std::min(cur.nvmin, e.count) : cur.nvmin;
      nl.predState = state;
      nl.predEdge = ei;
      if (!s_.seen[static_cast<size_t>(ns)] || better(nl, s_.labels[static_cast<size_t>(ns)]))
        push(ns, nl);
    }
  }

  void push(int state, const Label& l) {
    const auto st = static_cast<size_t>(state);
    if (!s_.seen[st]) {
      s_.seen[st] = 1;
      s_.touched.push_back(state);
    }
    s_.labels[st] = l;
    heap_.push(Entry{widest_ ? l.bw : 0.0f, l.latNs, l.hops, l.cls, state});
  }

  bool better(const Label& x, const Label& y) const {
    if (widest_ && x.bw != y.bw) return x.bw > y.bw;
    if (x.latNs != y.latNs) return x.latNs < y.latNs;
    if (x.hops != y.hops) return x.hops < y.hops;
    return x.cls < y.cls;
  }

  const PathFinder::Impl& g_;
  PathFinder::Impl::Search& s_;
  const bool widest_;
  const float threshold_;
  const bool allowNetwork_;
  std::vector<Label>& best_;
  std::vector<uint8_t> done_;
  size_t remaining_;
  int src0_ = -1;
  int src1_ = -1;
  std::priority_queue<Entry, std::vector<Entry>, Worse> heap_;
};

}  // namespace

void PathFinder::Impl::clearScratch(Search& s) const {
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
}

// Targets still waiting, by routing node (both sides of a GPU); unmark with mark = false.
void PathFinder::Impl::markTargets(Search& s, const std::vector<NodeId>& targets, bool mark) const {
  for (size_t i = 0; i < targets.size(); ++i) {
    const int value = mark ? static_cast<int>(i) : -1;
    s.targetOf[static_cast<size_t>(hostRnode[targets[i]])] = value;
    if (nvRnode[targets[i]] >= 0) s.targetOf[static_cast<size_t>(nvRnode[targets[i]])] = value;
  }
}

void PathFinder::Impl::run(Search& s, NodeId source, float threshold, bool allowNetwork,
                           const std::vector<NodeId>& targets, std::vector<Label>& best) const {
  clearScratch(s);
  markTargets(s, targets, true);
  if (threshold < 0) {
    SearchPass<WidestWorse>(*this, s, threshold, allowNetwork, targets.size(), best).run(source);
  } else {
    SearchPass<LatencyWorse>(*this, s, threshold, allowNetwork, targets.size(), best).run(source);
  }
  markTargets(s, targets, false);
}

}  // namespace plexus::topo
