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
// The rings are ring.cpp's rounds (ring_schedule.hpp: fused recvReduceSend / recvReduceCopySend /
// recvCopySend steps, messages of at most fifoElems / 2). The phases run one after the other on
// one channel; each is deadlock-free on its own and their messages between a pair of ranks stay
// in order, so their sequence is too.
#include <functional>

#include "algorithms/build_common.hpp"
#include "algorithms/partition.hpp"
#include "algorithms/ring_schedule.hpp"

namespace plexus::algo {
namespace {

using namespace detail;

// Block j of the ring's data, piece `it` of `iters`: (offset, count).
using BlockPiece = std::function<std::pair<uint64_t, uint64_t>(int block, uint64_t it)>;

// Ring reduce-scatter: ring position j ends with block j, reduced over the ring into the output.
void ringReduceScatter(Writer& w, const RingOrder& g, uint64_t iters, const BlockPiece& piece,
                       bool finalize) {
  const int n = g.size();
  for (uint64_t it = 0; it < iters; ++it) {
    auto srcOf = [&](int64_t j) {
      const auto [o, k] = piece(mod(j, n), it);
      return in(o, k);
    };
    const auto [o, k] = piece(g.pos, it);
    reduceScatterRound(w, g, srcOf, out(o, k), finalize);
  }
}

// Ring all-gather of the output's blocks (position j holds block j).
void ringAllGather(Writer& w, const RingOrder& g, uint64_t iters, const BlockPiece& piece) {
  const int n = g.size();
  for (uint64_t it = 0; it < iters; ++it) {
    auto dstOf = [&](int64_t j) {
      const auto [o, k] = piece(mod(j, n), it);
      return out(o, k);
    };
    allGatherRound(w, g, dstOf(g.pos), dstOf);
  }
}

struct Domains {
  int g = 1;       // ranks per domain
  int domain = 0;  // this rank's domain
  int local = 0;   // this rank's place in it
};

// This rank's domain and place in it (the request's domains are valid).
Domains domainsOf(const BuildRequest& r) {
  Domains d;
  d.g = static_cast<int>(r.groups[0].size());
  for (size_t i = 0; i < r.groups.size(); ++i) {
    for (size_t j = 0; j < r.groups[i].size(); ++j) {
      if (r.groups[i][j] != r.rank) continue;
      d.domain = static_cast<int>(i);
      d.local = static_cast<int>(j);
    }
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
  validateRequest(r, "hier", {Collective::kAllReduce}, {.domains = true});
  const Domains d = domainsOf(r);
  Plan plan = planHeader(r, "hier", channelsOf(r));
  const int m = static_cast<int>(r.groups.size());
  const uint64_t msg = exchangeMessage(r);
  RingOrder domainRing{r.groups[static_cast<size_t>(d.domain)], d.local};
  RingOrder rail;
  for (int e = 0; e < m; ++e)
    rail.order.push_back(r.groups[static_cast<size_t>(e)][static_cast<size_t>(d.local)]);
  rail.pos = d.domain;
  const uint64_t g = static_cast<uint64_t>(d.g);
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a_, b_] = channelPart(r.count, c, nch);
    const uint64_t a = a_, b = b_;  // lambdas below use them (clang 14)
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
