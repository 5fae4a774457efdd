// Bruck all-gather (builders.hpp: buildBruck) and the dissemination barrier
// (buildDissemination): the two ceil(log2 n)-round patterns in which rank r talks to r +- 2^k.
//
// Bruck: after the round with distance k, rank r holds blocks r, r+1, ..., r+2k-1 (mod n). Round
// k sends the min(k, n-k) blocks r.. to rank r-k and receives blocks r+k.. from rank r+k, which
// holds exactly those. The classic algorithm keeps blocks in rotated order and rotates at the
// end; here every block goes straight to its final place in the output, so a run of blocks that
// wraps past the end of the output is two ranges. Both ends cut the same ranges into the same
// pieces (exchange.hpp); each round is a sequence of phases of at most fifoElems / 2 elements.
//
// Dissemination: round k sends a token (a zero-element message) to r + 2^k and waits for one from
// r - 2^k; after ceil(log2 n) rounds every rank has heard, directly or transitively, from every
// other, so none leaves before all have entered.
#include "algorithms/build_common.hpp"
#include "algorithms/exchange.hpp"

namespace plexus::algo {
namespace {

using namespace detail;

// The channel's part [a, b) of blocks first, first+1, ..., first+cnt-1 (mod n), split where the
// run wraps.
Ranges wrappedBlocks(int first, int cnt, int n, uint64_t C, uint64_t a, uint64_t b) {
  const int end = first + cnt;
  if (end <= n) return blockRanges(first, end, C, a, b);
  Ranges r = blockRanges(first, n, C, a, b);
  for (const Range& x : blockRanges(0, end - n, C, a, b)) r.push_back(x);  // never merged
  return r;
}

}  // namespace

Plan buildBruck(const BuildRequest& r) {
  validateRequest(r, "bruck", {Collective::kAllGather});
  Plan plan = planHeader(r, "bruck", channelsOf(r));
  const uint64_t msg = exchangeMessage(r);
  const int n = r.nranks, me = r.rank;
  const uint64_t C = r.count;
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(C, c, nch);
    if (b == a) continue;
    w.copy(in(a, b - a), out(static_cast<uint64_t>(me) * C + a, b - a), false);
    for (int k = 1; k < n; k *= 2) {
      const int cnt = std::min(k, n - k);
      const int to = mod(static_cast<int64_t>(me) - k, n), from = (me + k) % n;
      exchange(w, to, Buffer::kOutput, wrappedBlocks(me, cnt, n, C, a, b), from,
               wrappedBlocks(from, cnt, n, C, a, b), msg,
               [&](uint64_t o, uint64_t len) { w.recv(from, out(o, len)); });
    }
  }
  return plan;
}

Plan buildDissemination(const BuildRequest& r) {
  validateRequest(r, "dissemination", {Collective::kBarrier});
  Plan plan = planHeader(r, "dissemination", 1);
  Writer w(plan.channels[0], /*keepEmpty=*/true);
  const int n = r.nranks, me = r.rank;
  for (int k = 1; k < n; k *= 2) {
    w.send((me + k) % n, in(0, 0));
    w.recv(mod(static_cast<int64_t>(me) - k, n), out(0, 0));
  }
  return plan;
}

}  // namespace plexus::algo
