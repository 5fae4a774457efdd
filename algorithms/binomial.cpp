// Binomial-tree broadcast, reduce, gather and scatter (builders.hpp: buildBinomial).
//
// Ranks are numbered relative to the root, v = (r - root) mod n. Rank v > 0 has the parent
// v - lowbit(v) and the children v + m for m = 1, 2, 4, ... < lowbit(v) with v + m < n (the root:
// every m < n); its subtree is the relative ranks [v, v + min(lowbit(v), n - v)). Depth and the
// root's fan-out are ceil(log2 n).
//
// Broadcast and reduce move the whole data through every edge, pipelined in pieces of at most
// fifoElems (no cycle): broadcast forwards each piece to the children, largest subtree first;
// reduce combines the children's pieces (smallest subtree first, it arrives first) with the own
// input, in scratch when there are several children, and forwards the sum (a fused step for the
// last child). Gather and scatter move each subtree's blocks once per edge: a non-root rank keeps
// its subtree's blocks in scratch in relative order; the root's output (input, for scatter) is in
// rank order, so a run of relative blocks that wraps past rank n-1 is cut there, on both ends.
#include <algorithm>
#include <bit>

#include "algorithms/build_common.hpp"
#include "algorithms/exchange.hpp"

namespace plexus::algo {
namespace {

using namespace detail;

struct Binomial {
  int n = 1, root = 0, v = 0;
  int actual(int u) const { return (u + root) % n; }
  static int lowbit(int x) { return x & -x; }
  int parent() const { return v == 0 ? -1 : actual(v - lowbit(v)); }
  int span(int u) const { return u == 0 ? n : std::min(lowbit(u), n - u); }
  // Relative ranks of the children, by increasing subtree.
  std::vector<int> children() const {
    std::vector<int> kids;
    const int limit = v == 0 ? n : lowbit(v);
    for (int m = 1; m < limit && v + m < n; m *= 2) kids.push_back(v + m);
    return kids;
  }
};

// Runs of relative blocks [u0, u1) as (first block, blocks): cut where they wrap past rank n-1 in
// rank order (relative block n - root), and at every block when a channel holds only part [a, b)
// of each block.
std::vector<std::pair<int, int>> runs(int u0, int u1, const Binomial& t, bool wholeBlocks) {
  std::vector<std::pair<int, int>> out;
  const int wrap = t.n - t.root;
  for (int u = u0; u < u1;) {
    int e = wholeBlocks ? u1 : u + 1;
    if (u < wrap && e > wrap) e = wrap;
    out.push_back({u, e - u});
    u = e;
  }
  return out;
}

void broadcast(const BuildRequest& r, Plan& plan, const Binomial& t) {
  const uint64_t msg = treeMessage(r);
  std::vector<int> kids = t.children();
  std::reverse(kids.begin(), kids.end());  // largest subtree first
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(r.count, c, nch);
    if (t.v == 0) w.copy(in(a, b - a), out(a, b - a), false);
    for (const auto& [pb, pe] : pieces(b - a, msg)) {
      const uint64_t x = a + pb, k = pe - pb;
      if (t.v == 0) {
        for (int kid : kids) w.send(t.actual(kid), in(x, k));
      } else if (kids.empty()) {
        w.recv(t.parent(), out(x, k));
      } else {
        w.recvCopySend(t.parent(), t.actual(kids[0]), out(x, k));
        for (size_t i = 1; i < kids.size(); ++i) w.send(t.actual(kids[i]), out(x, k));
      }
    }
  }
}

void reduce(const BuildRequest& r, Plan& plan, const Binomial& t) {
  const uint64_t msg = treeMessage(r);
  const std::vector<int> kids = t.children();
  if (t.v != 0 && kids.size() >= 2) plan.scratchCount = r.count;
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(r.count, c, nch);
    for (const auto& [pb, pe] : pieces(b - a, msg)) {
      const uint64_t x = a + pb, k = pe - pb;
      if (t.v == 0) {
        if (kids.empty()) w.copy(in(x, k), out(x, k), true);
        for (size_t i = 0; i < kids.size(); ++i) {
          w.recvReduce(t.actual(kids[i]), i == 0 ? in(x, k) : out(x, k), out(x, k),
                       i + 1 == kids.size());
        }
      } else if (kids.empty()) {
        w.send(t.parent(), in(x, k));
      } else {
        for (size_t i = 0; i + 1 < kids.size(); ++i) {
          w.recvReduce(t.actual(kids[i]), i == 0 ? in(x, k) : scr(x, k), scr(x, k), false);
        }
        w.recvReduceSend(t.actual(kids.back()), t.parent(),
                         kids.size() == 1 ? in(x, k) : scr(x, k));
      }
    }
  }
}

// Gather (toRoot) or scatter: moves the blocks of subtree `u` between this rank and `peer`.
// `where(u0)` gives this rank's offset of relative block u0's part; run lengths match on both ends.
template <typename Where, typename Emit>
void moveSubtree(int u, const Binomial& t, bool whole, uint64_t C, uint64_t a, uint64_t b,
                 uint64_t msg, Where where, Emit emit) {
  for (const auto& [u0, cnt] : runs(u, u + t.span(u), t, whole)) {
    const uint64_t len = static_cast<uint64_t>(cnt - 1) * C + (b - a);
    const uint64_t base = where(u0);
    for (const auto& [pb, pe] : pieces(len, msg)) emit(base + pb, pe - pb);
  }
}

void gatherOrScatter(const BuildRequest& r, Plan& plan, const Binomial& t, bool gather) {
  const uint64_t msg = treeMessage(r);
  const uint64_t C = r.count;
  std::vector<int> kids = t.children();
  if (!gather) std::reverse(kids.begin(), kids.end());  // scatter: largest subtree first
  const bool inner = t.v != 0 && !kids.empty();
  if (inner) plan.scratchCount = static_cast<uint64_t>(t.span(t.v)) * C;
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a_, b_] = channelPart(C, c, nch);
    const uint64_t a = a_, b = b_;  // lambdas below use them (clang 14)
    if (b == a) continue;
    const bool whole = a == 0 && b == C;
    // Where relative block u0's part lies here: rank order at the root, relative in scratch.
    auto rootAt = [&](int u0) { return static_cast<uint64_t>(t.actual(u0)) * C + a; };
    auto scratchAt = [&](int u0) { return static_cast<uint64_t>(u0 - t.v) * C + a; };
    const uint64_t mine = static_cast<uint64_t>(r.rank) * C;
    if (gather) {
      if (t.v == 0) w.copy(in(a, b - a), out(mine + a, b - a), false);
      if (inner) w.copy(in(a, b - a), scr(a, b - a), false);
      for (int kid : kids) {
        const int from = t.actual(kid);
        if (t.v == 0) {
          moveSubtree(kid, t, whole, C, a, b, msg, rootAt,
                      [&](uint64_t o, uint64_t k) { w.recv(from, out(o, k)); });
        } else {
          moveSubtree(kid, t, whole, C, a, b, msg, scratchAt,
                      [&](uint64_t o, uint64_t k) { w.recv(from, scr(o, k)); });
        }
      }
      if (t.v != 0) {
        moveSubtree(t.v, t, whole, C, a, b, msg, scratchAt, [&](uint64_t o, uint64_t k) {
          w.send(t.parent(), inner ? scr(o, k) : in(o, k));
        });
      }
    } else {
      if (t.v != 0) {
        moveSubtree(t.v, t, whole, C, a, b, msg, scratchAt, [&](uint64_t o, uint64_t k) {
          w.recv(t.parent(), inner ? scr(o, k) : out(o, k));
        });
      }
      for (int kid : kids) {
        const int to = t.actual(kid);
        if (t.v == 0) {
          moveSubtree(kid, t, whole, C, a, b, msg, rootAt,
                      [&](uint64_t o, uint64_t k) { w.send(to, in(o, k)); });
        } else {
          moveSubtree(kid, t, whole, C, a, b, msg, scratchAt,
                      [&](uint64_t o, uint64_t k) { w.send(to, scr(o, k)); });
        }
      }
      if (t.v == 0) w.copy(in(mine + a, b - a), out(a, b - a), false);
      if (inner) w.copy(scr(a, b - a), out(a, b - a), false);
    }
  }
}

}  // namespace

Plan buildBinomial(const BuildRequest& r) {
  validateRequest(
      r, "binomial",
      {Collective::kBroadcast, Collective::kReduce, Collective::kGather, Collective::kScatter});
  Plan plan = planHeader(r, "binomial", channelsOf(r));
  Binomial t;
  t.n = r.nranks;
  t.root = r.root;
  t.v = mod(static_cast<int64_t>(r.rank) - r.root, r.nranks);
  switch (r.collective) {
    case Collective::kBroadcast:
      broadcast(r, plan, t);
      break;
    case Collective::kReduce:
      reduce(r, plan, t);
      break;
    case Collective::kGather:
      gatherOrScatter(r, plan, t, true);
      break;
    default:
      gatherOrScatter(r, plan, t, false);
      break;
  }
  return plan;
}

}  // namespace plexus::algo
