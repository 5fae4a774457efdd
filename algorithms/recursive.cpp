// Recursive halving and doubling (builders.hpp: buildRecursive): Rabenseifner all-reduce,
// recursive-doubling all-gather, recursive-halving reduce-scatter, for any number of ranks.
//
// Non-powers of two fold. Let p be the largest power of two <= n and rem = n - p. Ranks 2i and
// 2i+1 for i < rem form a pair: the even rank hands its data to the odd one before the exchange
// and gets the result back after it; the odd rank stands for both as "new rank" i. Ranks
// r >= 2 rem are new ranks r - rem. New rank k owns the original blocks 2k, 2k+1 (k < rem) or
// k + rem, so every window of new ranks is a contiguous run of original blocks.
//
// Halving: the window of new ranks [lo, hi) starts as all p; at distance d = p/2, ..., 1 a rank
// keeps the half of its window that holds its own new rank, sends the other half to new rank
// k ^ d and reduces the half it receives into its own. Doubling runs the other way: at distance
// d = 1, 2, ..., p/2 a rank sends its aligned window of d new ranks and receives its partner's.
// Every exchange is cut into phases of at most fifoElems / 2 elements (build_common.hpp).
//
// Buffers. All-reduce accumulates in the output (the halves of the first step read the input and
// write the output at the same place, which in place is the identity). Reduce-scatter
// accumulates in a scratch copy of the input's layout (n * count elements) and writes each rank's
// block to its output in the last step. All-gather works in the output.
#include <algorithm>
#include <bit>

#include "algorithms/build_common.hpp"
#include "algorithms/exchange.hpp"
#include "algorithms/partition.hpp"

namespace plexus::algo {
namespace {

using namespace detail;

struct Fold {
  int n = 1, p = 1, rem = 0;
  explicit Fold(int nranks) : n(nranks) {
    p = static_cast<int>(std::bit_floor(static_cast<unsigned>(nranks)));
    rem = n - p;
  }
  bool folded(int r) const { return r < 2 * rem; }
  int newRank(int r) const { return r < 2 * rem ? (r % 2 ? r / 2 : -1) : r - rem; }
  int rankOf(int k) const { return k < rem ? 2 * k + 1 : k + rem; }  // who plays new rank k
  int firstBlock(int k) const { return k < rem ? 2 * k : k + rem; }  // k = p gives n
};

void allReduce(const BuildRequest& r, Plan& plan) {
  const Fold f(r.nranks);
  const uint64_t msg = exchangeMessage(r);
  const int me = r.rank;
  for (size_t c = 0; c < plan.channels.size(); ++c) {
    Writer w(plan.channels[c]);
    const auto [a_, b_] =
        channelPart(r.count, static_cast<int>(c), static_cast<int>(plan.channels.size()));
    const uint64_t a = a_, b = b_;  // lambdas below use them (clang 14)
    const uint64_t len = b - a;
    if (len == 0) continue;
    if (r.nranks == 1) {
      w.copy(in(a, len), out(a, len), true);
      continue;
    }
    const uint64_t p = static_cast<uint64_t>(f.p);
    auto window = [&](int k0, int k1) {
      Ranges rs;
      if (k1 > k0) {
        const uint64_t s = evenPart(len, static_cast<uint64_t>(k0), p).first;
        const uint64_t e = evenPart(len, static_cast<uint64_t>(k1 - 1), p).second;
        addRange(rs, a + s, e - s);
      }
      return rs;
    };
    const Ranges whole = {{a, len}};
    const Ranges none;
    Buffer cur = Buffer::kInput;
    if (f.folded(me)) {
      if (me % 2 == 0) {
        exchange(w, me + 1, Buffer::kInput, whole, -1, none, msg, [](uint64_t, uint64_t) {});
        exchange(w, -1, Buffer::kOutput, none, me + 1, whole, msg,
                 [&](uint64_t o, uint64_t k) { w.recv(me + 1, out(o, k)); });
        continue;
      }
      exchange(w, -1, Buffer::kInput, none, me - 1, whole, msg,
               [&](uint64_t o, uint64_t k) { w.recvReduce(me - 1, in(o, k), out(o, k), false); });
      cur = Buffer::kOutput;
    }
    const int k = f.newRank(me);
    int lo = 0, hi = f.p;
    for (int d = f.p / 2; d >= 1; d /= 2) {
      const int partner = f.rankOf(k ^ d);
      const int mid = lo + d;
      const bool upper = (k & d) != 0;
      const Ranges keep = upper ? window(mid, hi) : window(lo, mid);
      const Ranges give = upper ? window(lo, mid) : window(mid, hi);
      const Buffer src = cur;
      exchange(w, partner, src, give, partner, keep, msg, [&](uint64_t o, uint64_t n) {
        w.recvReduce(partner, at(src, o, n), out(o, n), d == 1);
      });
      cur = Buffer::kOutput;
      if (upper)
        lo = mid;
      else
        hi = mid;
    }
    for (int d = 1; d < f.p; d *= 2) {
      const int q = k ^ d;
      const int partner = f.rankOf(q);
      const int mine = k / d * d, theirs = q / d * d;
      exchange(w, partner, Buffer::kOutput, window(mine, mine + d), partner,
               window(theirs, theirs + d), msg,
               [&](uint64_t o, uint64_t n) { w.recv(partner, out(o, n)); });
    }
    if (f.folded(me)) {
      exchange(w, me - 1, Buffer::kOutput, whole, -1, none, msg, [](uint64_t, uint64_t) {});
    }
  }
}

void allGather(const BuildRequest& r, Plan& plan) {
  const Fold f(r.nranks);
  const uint64_t msg = exchangeMessage(r);
  const uint64_t C = r.count;
  const int me = r.rank;
  const int n = r.nranks;
  const Ranges none;
  for (size_t c = 0; c < plan.channels.size(); ++c) {
    Writer w(plan.channels[c]);
    const auto [a_, b_] =
        channelPart(C, static_cast<int>(c), static_cast<int>(plan.channels.size()));
    const uint64_t a = a_, b = b_;  // lambdas below use them (clang 14)
    const uint64_t len = b - a;
    if (len == 0) continue;
    const uint64_t mine = static_cast<uint64_t>(me) * C;
    w.copy(in(a, len), out(mine + a, len), false);
    if (n == 1) continue;
    auto blocks = [&](int o0, int o1) { return blockRanges(o0, o1, C, a, b); };
    auto recvInto = [&](int from) {
      return [&w, from](uint64_t o, uint64_t k) { w.recv(from, out(o, k)); };
    };
    if (f.folded(me)) {
      if (me % 2 == 0) {
        exchange(w, me + 1, Buffer::kInput, {{a, len}}, -1, none, msg, recvInto(-1));
        Ranges rest = blocks(0, me);
        for (const Range& x : blocks(me + 1, n)) addRange(rest, x.offset, x.count);
        exchange(w, -1, Buffer::kOutput, none, me + 1, rest, msg, recvInto(me + 1));
        continue;
      }
      exchange(w, -1, Buffer::kOutput, none, me - 1, blocks(me - 1, me), msg, recvInto(me - 1));
    }
    const int k = f.newRank(me);
    for (int d = 1; d < f.p; d *= 2) {
      const int q = k ^ d;
      const int partner = f.rankOf(q);
      const int k0 = k / d * d, q0 = q / d * d;
      exchange(w, partner, Buffer::kOutput, blocks(f.firstBlock(k0), f.firstBlock(k0 + d)), partner,
               blocks(f.firstBlock(q0), f.firstBlock(q0 + d)), msg, recvInto(partner));
    }
    if (f.folded(me)) {
      Ranges rest = blocks(0, me - 1);
      for (const Range& x : blocks(me, n)) addRange(rest, x.offset, x.count);
      exchange(w, me - 1, Buffer::kOutput, rest, -1, none, msg, recvInto(-1));
    }
  }
}

void reduceScatter(const BuildRequest& r, Plan& plan) {
  const Fold f(r.nranks);
  const uint64_t msg = exchangeMessage(r);
  const uint64_t C = r.count;
  const int me = r.rank;
  const int n = r.nranks;
  const Ranges none;
  if (n > 2) plan.scratchCount = static_cast<uint64_t>(n) * C;
  auto nothing = [](uint64_t, uint64_t) {};
  for (size_t c = 0; c < plan.channels.size(); ++c) {
    Writer w(plan.channels[c]);
    const auto [a_, b_] =
        channelPart(C, static_cast<int>(c), static_cast<int>(plan.channels.size()));
    const uint64_t a = a_, b = b_;  // lambdas below use them (clang 14)
    const uint64_t len = b - a;
    if (len == 0) continue;
    if (n == 1) {
      w.copy(in(a, len), out(a, len), true);
      continue;
    }
    auto blocks = [&](int o0, int o1, bool merge) { return blockRanges(o0, o1, C, a, b, merge); };
    Buffer cur = Buffer::kInput;
    if (f.folded(me)) {
      if (me % 2 == 0) {
        exchange(w, me + 1, Buffer::kInput, blocks(0, n, true), -1, none, msg, nothing);
        exchange(w, -1, Buffer::kOutput, none, me + 1, {{a, len}}, msg,
                 [&](uint64_t o, uint64_t k) { w.recv(me + 1, out(o, k)); });
        continue;
      }
      exchange(w, -1, Buffer::kInput, none, me - 1, blocks(0, n, true), msg,
               [&](uint64_t o, uint64_t k) { w.recvReduce(me - 1, in(o, k), scr(o, k), false); });
      cur = Buffer::kScratch;
    }
    const int k = f.newRank(me);
    int lo = 0, hi = f.p;
    for (int d = f.p / 2; d >= 1; d /= 2) {
      const int partner = f.rankOf(k ^ d);
      const int mid = lo + d;
      const bool upper = (k & d) != 0;
      const bool last = d == 1;
      const int k0 = upper ? mid : lo, k1 = upper ? hi : mid;
      const int g0 = upper ? lo : mid, g1 = upper ? mid : hi;
      const Ranges keep = blocks(f.firstBlock(k0), f.firstBlock(k1), !last);
      const Ranges give = blocks(f.firstBlock(g0), f.firstBlock(g1), !last);
      const Buffer src = cur;
      exchange(w, partner, src, give, partner, keep, msg, [&](uint64_t o, uint64_t cnt) {
        if (last && o / C == static_cast<uint64_t>(me)) {
          w.recvReduce(partner, at(src, o, cnt), out(o - static_cast<uint64_t>(me) * C, cnt), true);
        } else {
          w.recvReduce(partner, at(src, o, cnt), scr(o, cnt), last);
        }
      });
      cur = Buffer::kScratch;
      if (upper)
        lo = mid;
      else
        hi = mid;
    }
    if (f.folded(me)) {
      exchange(w, me - 1, Buffer::kScratch, {{static_cast<uint64_t>(me - 1) * C + a, len}}, -1,
               none, msg, nothing);
    }
  }
}

}  // namespace

Plan buildRecursive(const BuildRequest& r) {
  validateRequest(r, "recursive halving/doubling",
                  {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter});
  const char* name = r.collective == Collective::kAllReduce   ? "rhd"
                     : r.collective == Collective::kAllGather ? "recdoubling"
                                                              : "rechalving";
  Plan plan = planHeader(r, name, channelsOf(r));
  switch (r.collective) {
    case Collective::kAllReduce:
      allReduce(r, plan);
      break;
    case Collective::kAllGather:
      allGather(r, plan);
      break;
    default:
      reduceScatter(r, plan);
      break;
  }
  return plan;
}

}  // namespace plexus::algo
