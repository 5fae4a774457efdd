// Hierarchical all-reduce (builders.hpp: buildHier) over domains given as request.groups: a
// partition of the ranks into m groups of g ranks, each group in rail order. Rank i of every
// group sits on rail i (the same NIC position, or the same switch plane of a second tier).
//
// Per channel part (channelPart of count), cut into g blocks (block i belongs to local rank i):
//  1. reduce-scatter inside the domain: a ring over the group's members; local rank i ends with
//     block i reduced over its domain (written to the output);
//  2. all-reduce of block i across domains on rail i: a ring over member i of every group, in
//     group order, reducing and finalizing block i;
//  3. all-gather inside the domain: the same domain ring circulates the finished blocks.
// Phases 1 and 3 stay on the fast links of a domain; only phase 2 crosses domains, each rank on
// its own rail with 1/g of the data, so each domain's traffic out is 2 (m-1)/m of the data spread
// over g rails. One domain (m = 1) gives a ring reduce-scatter + all-gather; domains of one rank
// (g = 1) give a ring all-reduce across them.
//
// The rings follow ring.cpp's schedule (fused recvReduceSend / recvReduceCopySend /
// recvCopySend steps, messages of at most fifoElems / 2). The phases run one after the other on
// one channel; each is deadlock-free on its own and their messages between a pair of ranks stay
// in order, so their sequence is too.
#include <algorithm>
#include <cinttypes>
#include <functional>
#include <tuple>

#include "algorithms/build_common.hpp"
#include "algorithms/partition.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace {

using namespace detail;

// A ring over some ranks: order[i] sends to order[i+1]; this rank is at `pos`.
struct GroupRing {
  std::vector<int> order;
  int pos = 0;
  int size() const { return static_cast<int>(order.size()); }
  int at(int64_t i) const { return order[static_cast<size_t>(mod(i, size()))]; }
  int prev() const { return at(pos - 1); }
  int next() const { return at(pos + 1); }
};

// Block j of the ring's data, piece `it` of `iters`: (offset, count).
using BlockPiece = std::function<std::pair<uint64_t, uint64_t>(int block, uint64_t it)>;

// Ring reduce-scatter: ring position j ends with block j, reduced over the ring into dst.
void ringReduceScatter(Writer& w, const GroupRing& g, uint64_t iters, const BlockPiece& piece,
                       bool finalize) {
  const int n = g.size(), p = g.pos;
  for (uint64_t it = 0; it < iters; ++it) {
    auto [o, k] = piece(mod(p - 1, n), it);
    w.send(g.next(), in(o, k));
    for (int s = 2; s <= n - 1; ++s) {
      std::tie(o, k) = piece(mod(p - s, n), it);
      w.recvReduceSend(g.prev(), g.next(), in(o, k));
    }
    std::tie(o, k) = piece(p, it);
    w.recvReduce(g.prev(), in(o, k), out(o, k), finalize);
  }
}

// Ring all-gather of the output's blocks (position j holds block j).
void ringAllGather(Writer& w, const GroupRing& g, uint64_t iters, const BlockPiece& piece) {
  const int n = g.size(), p = g.pos;
  for (uint64_t it = 0; it < iters; ++it) {
    auto [o, k] = piece(p, it);
    w.send(g.next(), out(o, k));
    for (int s = 1; s <= n - 2; ++s) {
      std::tie(o, k) = piece(mod(p - s, n), it);
      w.recvCopySend(g.prev(), g.next(), out(o, k));
    }
    std::tie(o, k) = piece(mod(p + 1, n), it);
    w.recv(g.prev(), out(o, k));
  }
}

// Ring all-reduce of [x, x + len) from `src` into the output, finalized.
void ringAllReduce(Writer& w, const GroupRing& g, Buffer src, uint64_t x, uint64_t len,
                   uint64_t msg) {
  const int n = g.size(), p = g.pos;
  const uint64_t un = static_cast<uint64_t>(n);
  if (len == 0) return;
  if (n == 1) {
    w.copy(at(src, x, len), out(x, len), true);
    return;
  }
  const uint64_t iters = partsOfAtMost((len + un - 1) / un, msg);
  for (uint64_t it = 0; it < iters; ++it) {
    const auto [ib, ie] = evenPart(len, it, iters);
    auto chunk = [&, ib = ib, ie = ie](int64_t j) {
      const auto [cb, ce] = evenPart(ie - ib, static_cast<uint64_t>(mod(j, n)), un);
      return std::pair<uint64_t, uint64_t>{x + ib + cb, ce - cb};
    };
    auto [o, k] = chunk(p - 1);
    w.send(g.next(), at(src, o, k));
    for (int s = 2; s <= n - 1; ++s) {
      std::tie(o, k) = chunk(p - s);
      w.recvReduceSend(g.prev(), g.next(), at(src, o, k));
    }
    std::tie(o, k) = chunk(p);
    w.recvReduceCopySend(g.prev(), g.next(), at(src, o, k), out(o, k), true);
    for (int s = 1; s <= n - 2; ++s) {
      std::tie(o, k) = chunk(p - s);
      w.recvCopySend(g.prev(), g.next(), out(o, k));
    }
    std::tie(o, k) = chunk(p + 1);
    w.recv(g.prev(), out(o, k));
  }
}

struct Domains {
  int g = 1;       // ranks per domain
  int domain = 0;  // this rank's domain
  int local = 0;   // this rank's place in it
};

Domains checkGroups(const BuildRequest& r) {
  const auto& groups = r.groups;
  if (groups.empty()) {
    throwError(ErrorCode::kInvalidArgument,
               "hier allreduce: no domains given (BuildRequest::groups is empty); the "
               "communicator derives them from the cluster graph");
  }
  Domains d;
  d.g = static_cast<int>(groups[0].size());
  std::vector<char> seen(static_cast<size_t>(r.nranks), 0);
  size_t total = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].size() != static_cast<size_t>(d.g) || d.g == 0) {
      throwError(ErrorCode::kInvalidArgument,
                 "hier allreduce: domain %zu has %zu ranks but domain 0 has %d; the hierarchical "
                 "algorithm needs domains of equal size",
                 i, groups[i].size(), d.g);
    }
    for (size_t j = 0; j < groups[i].size(); ++j) {
      const int x = groups[i][j];
      if (x < 0 || x >= r.nranks || seen[static_cast<size_t>(x)]) {
        throwError(ErrorCode::kInvalidArgument,
                   "hier allreduce: domain %zu lists rank %d, which is outside 0..%d or listed "
                   "twice",
                   i, x, r.nranks - 1);
      }
      seen[static_cast<size_t>(x)] = 1;
      if (x == r.rank) {
        d.domain = static_cast<int>(i);
        d.local = static_cast<int>(j);
      }
      ++total;
    }
  }
  if (total != static_cast<size_t>(r.nranks)) {
    throwError(ErrorCode::kInvalidArgument,
               "hier allreduce: the domains hold %zu ranks, the communicator has %d", total,
               r.nranks);
  }
  return d;
}

}  // namespace

std::vector<std::vector<int>> contiguousGroups(int nranks, int size) {
  std::vector<std::vector<int>> groups;
  if (size < 1) size = 1;
  for (int r = 0; r < nranks; ++r) {
    if (r % size == 0) groups.emplace_back();
    groups.back().push_back(r);
  }
  return groups;
}

Plan buildHier(const BuildRequest& r) {
  validateRequest(r, "hier", {Collective::kAllReduce});
  const Domains d = checkGroups(r);
  Plan plan = planHeader(r, "hier", channelsOf(r));
  const int m = static_cast<int>(r.groups.size());
  const uint64_t msg = exchangeMessage(r);
  GroupRing domainRing{r.groups[static_cast<size_t>(d.domain)], d.local};
  GroupRing rail;
  for (int e = 0; e < m; ++e)
    rail.order.push_back(r.groups[static_cast<size_t>(e)][static_cast<size_t>(d.local)]);
  rail.pos = d.domain;
  const uint64_t g = static_cast<uint64_t>(d.g);
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(r.count, c, nch);
    const uint64_t len = b - a;
    if (len == 0) continue;
    auto block = [&](int j) {
      const auto [bb, be] = evenPart(len, static_cast<uint64_t>(j), g);
      return std::pair<uint64_t, uint64_t>{a + bb, be - bb};
    };
    const uint64_t iters = partsOfAtMost((len + g - 1) / g, msg);
    const BlockPiece piece = [&](int j, uint64_t it) {
      const auto [o, k] = block(j);
      const auto [pb, pe] = evenPart(k, it, iters);
      return std::pair<uint64_t, uint64_t>{o + pb, pe - pb};
    };
    if (d.g > 1) ringReduceScatter(w, domainRing, iters, piece, m == 1);
    const auto [mo, mk] = block(d.local);
    if (m > 1 || d.g == 1)
      ringAllReduce(w, rail, d.g > 1 ? Buffer::kOutput : Buffer::kInput, mo, mk, msg);
    if (d.g > 1) ringAllGather(w, domainRing, iters, piece);
  }
  return plan;
}

}  // namespace plexus::algo
