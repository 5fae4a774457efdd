// Direct algorithms (builders.hpp): for ranks that all reach each other in one hop (one switch,
// one host). One-shot and two-shot all-reduce, NVLS (in-switch reduction, emulated on hosts),
// direct all-gather and reduce-scatter, linear gather and scatter, pairwise all-to-all.
//
// Every exchange is a sequence of phases (build_common.hpp): a rank sends its piece to every
// peer, then receives from every peer; pieces are at most fifoElems / 2. Peers are visited in
// the order r+1, r+2, ... so that not every rank sends to rank 0 first.
//
// Deterministic reductions: a rank that reduces a block combines the contributions in the
// canonical order of canonical.hpp (((x0 + x1) + (x2 + x3)) + x4 ...), whoever it is, however
// the data is split into channels and pieces, so one-shot gives every rank bit-identical
// floating-point results, two-shot / NVLS / direct reduce-scatter / linear reduce (one reducer
// per block) do too, and all of them give the bits of reproducible mode. Intermediate values
// live in scratch slots (at the element's own offset, so channels never share scratch) and the
// root of the tree writes the output; in place, the own input is read before it is overwritten.
#include <algorithm>

#include "algorithms/build_common.hpp"
#include "algorithms/canonical.hpp"
#include "algorithms/exchange.hpp"
#include "algorithms/partition.hpp"

namespace plexus::algo {
namespace {

using namespace detail;

// The canonical reduction (canonical.hpp) of one piece of k elements: `own` is this rank's
// contribution (a local slice), the others arrive from their ranks in rank order; intermediate
// values live in scratch slot s at [s * slotStride + scratchAt, +k) (at the element's own offset,
// so channels never share scratch); the root of the tree writes `finalDst`. In place, the own
// input is read before the root writes the output.
struct Accumulate {
  Writer& w;
  const CanonicalSchedule& sched;  // canonicalSchedule(n, me)
  int me;
  uint64_t slotStride;
  void run(Slice own, uint64_t scratchAt, Slice finalDst, bool finalize) const {
    const uint64_t k = own.count;
    if (k == 0) return;
    auto value = [&](int id) {
      const int slot = sched.ops[static_cast<size_t>(id)].slot;
      return slot < 0 ? own : scr(static_cast<uint64_t>(slot) * slotStride + scratchAt, k);
    };
    for (size_t i = 0; i < sched.ops.size(); ++i) {
      const CanonicalOp& op = sched.ops[i];
      const bool last = i + 1 == sched.ops.size();
      const Slice dst = last ? finalDst : value(static_cast<int>(i));
      const bool fin = last && finalize;
      if (op.leaf < 0) {
        w.reduce(value(op.a), value(op.b), dst, fin);
      } else if (op.a >= 0) {
        if (op.leaf == me)
          w.reduce(value(op.a), own, dst, fin);
        else
          w.recvReduce(op.leaf, value(op.a), dst, fin);
      } else if (op.leaf == me) {
        if (last) w.copy(own, dst, fin);
      } else {
        w.recv(op.leaf, dst);
      }
    }
  }
};

uint64_t slotsOf(const CanonicalSchedule& s) {
  return static_cast<uint64_t>(s.slots);
}

void oneShot(const BuildRequest& r, Plan& plan) {
  const uint64_t msg = exchangeMessage(r);
  const int n = r.nranks, me = r.rank;
  const int nch = static_cast<int>(plan.channels.size());
  const CanonicalSchedule sched = canonicalSchedule(n, me);
  plan.scratchCount = slotsOf(sched) * r.count;
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a_, b_] = channelPart(r.count, c, nch);
    const uint64_t a = a_, b = b_;  // lambdas below use them (clang 14)
    for (const auto& [pb, pe] : pieces(b - a, msg)) {
      const uint64_t x = a + pb, k = pe - pb;
      for (int i = 1; i < n; ++i) w.send(rotated(me, i, n), in(x, k));
      Accumulate{w, sched, me, r.count}.run(in(x, k), x, out(x, k), true);
    }
  }
}

// Two-shot: block j of each channel's part belongs to rank j. Per iteration, piece `it` of every
// block: send each peer its block's piece, reduce the own block's piece (canonical order), send the
// result to every peer, receive every peer's result. Scratch holds only the own blocks, channel
// after channel, once per slot of the canonical reduction (about slots * count / n elements).
void twoShot(const BuildRequest& r, Plan& plan) {
  const uint64_t msg = exchangeMessage(r);
  const int n = r.nranks, me = r.rank;
  const uint64_t un = static_cast<uint64_t>(n);
  const int nch = static_cast<int>(plan.channels.size());
  const CanonicalSchedule sched = canonicalSchedule(n, me);
  auto ownBlock = [&](int c) {
    const auto [a, b] = channelPart(r.count, c, nch);
    const auto [bb, be] = evenPart(b - a, static_cast<uint64_t>(me), un);
    return Range{a + bb, be - bb};
  };
  uint64_t ownTotal = 0;  // the slot stride
  for (int c = 0; c < nch; ++c) ownTotal += ownBlock(c).count;
  plan.scratchCount = n > 1 ? slotsOf(sched) * ownTotal : 0;
  uint64_t ownBase = 0;  // channel c's own block in each slot
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a_, b_] = channelPart(r.count, c, nch);
    const uint64_t a = a_, b = b_;  // lambdas below use them (clang 14)
    const uint64_t len = b - a;
    const Range own = ownBlock(c);
    const uint64_t base = ownBase;
    ownBase += own.count;
    if (len == 0) continue;
    if (n == 1) {
      w.copy(in(a, len), out(a, len), true);
      continue;
    }
    const uint64_t iters = partsOfAtMost((len + un - 1) / un, msg);
    auto piece = [&](int j, uint64_t it) {
      const auto [bb, be] = evenPart(len, static_cast<uint64_t>(j), un);
      const auto [pb, pe] = evenPart(be - bb, it, iters);
      return Range{a + bb + pb, pe - pb};
    };
    for (uint64_t it = 0; it < iters; ++it) {
      for (int i = 1; i < n; ++i) {
        const int peer = rotated(me, i, n);
        const Range p = piece(peer, it);
        w.send(peer, in(p.offset, p.count));
      }
      const Range mine = piece(me, it);
      Accumulate{w, sched, me, ownTotal}.run(in(mine.offset, mine.count),
                                             base + (mine.offset - own.offset),
                                             out(mine.offset, mine.count), true);
      for (int i = 1; i < n; ++i) w.send(rotated(me, i, n), out(mine.offset, mine.count));
      for (int i = 1; i < n; ++i) {
        const int from = rotated(me, n - i, n);
        const Range p = piece(from, it);
        w.recv(from, out(p.offset, p.count));
      }
    }
  }
}

// Direct all-gather: per piece, send the own block's piece to every peer, receive every peer's.
void directAllGather(const BuildRequest& r, Plan& plan) {
  const uint64_t msg = exchangeMessage(r);
  const int n = r.nranks, me = r.rank;
  const uint64_t C = r.count;
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(C, c, nch);
    w.copy(in(a, b - a), out(static_cast<uint64_t>(me) * C + a, b - a), false);
    for (const auto& [pb, pe] : pieces(b - a, msg)) {
      const uint64_t x = a + pb, k = pe - pb;
      for (int i = 1; i < n; ++i) w.send(rotated(me, i, n), in(x, k));
      for (int i = 1; i < n; ++i) {
        const int from = rotated(me, n - i, n);
        w.recv(from, out(static_cast<uint64_t>(from) * C + x, k));
      }
    }
  }
}

// Direct reduce-scatter: per piece, send every peer its block's piece, reduce the own block's
// piece in rank order.
void directReduceScatter(const BuildRequest& r, Plan& plan) {
  const uint64_t msg = exchangeMessage(r);
  const int n = r.nranks, me = r.rank;
  const uint64_t C = r.count;
  const int nch = static_cast<int>(plan.channels.size());
  const CanonicalSchedule sched = canonicalSchedule(n, me);
  plan.scratchCount = slotsOf(sched) * C;
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(C, c, nch);
    for (const auto& [pb, pe] : pieces(b - a, msg)) {
      const uint64_t x = a + pb, k = pe - pb;
      for (int i = 1; i < n; ++i) {
        const int peer = rotated(me, i, n);
        w.send(peer, in(static_cast<uint64_t>(peer) * C + x, k));
      }
      Accumulate{w, sched, me, C}.run(in(static_cast<uint64_t>(me) * C + x, k), x, out(x, k), true);
    }
  }
}

// Linear reduce: every rank sends its input to the root piece by piece; the root reduces each
// piece in canonical order. No cycle: messages up to fifoElems.
void linearReduce(const BuildRequest& r, Plan& plan) {
  const uint64_t msg = treeMessage(r);
  const int n = r.nranks, me = r.rank, root = r.root;
  const int nch = static_cast<int>(plan.channels.size());
  const CanonicalSchedule sched = canonicalSchedule(n, me);
  if (me == root) plan.scratchCount = slotsOf(sched) * r.count;
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(r.count, c, nch);
    for (const auto& [pb, pe] : pieces(b - a, msg)) {
      const uint64_t x = a + pb, k = pe - pb;
      if (me != root)
        w.send(root, in(x, k));
      else
        Accumulate{w, sched, me, r.count}.run(in(x, k), x, out(x, k), true);
    }
  }
}

// Linear gather / scatter: the root receives from (sends to) every rank in turn, piece by piece.
// No cycle: messages up to fifoElems.
void linearGather(const BuildRequest& r, Plan& plan) {
  const uint64_t msg = treeMessage(r);
  const int n = r.nranks, me = r.rank, root = r.root;
  const uint64_t C = r.count;
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(C, c, nch);
    if (me == root) w.copy(in(a, b - a), out(static_cast<uint64_t>(root) * C + a, b - a), false);
    for (const auto& [pb, pe] : pieces(b - a, msg)) {
      const uint64_t x = a + pb, k = pe - pb;
      if (me != root) {
        w.send(root, in(x, k));
        continue;
      }
      for (int i = 1; i < n; ++i) {
        const int from = rotated(root, i, n);
        w.recv(from, out(static_cast<uint64_t>(from) * C + x, k));
      }
    }
  }
}

void linearScatter(const BuildRequest& r, Plan& plan) {
  const uint64_t msg = treeMessage(r);
  const int n = r.nranks, me = r.rank, root = r.root;
  const uint64_t C = r.count;
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(C, c, nch);
    for (const auto& [pb, pe] : pieces(b - a, msg)) {
      const uint64_t x = a + pb, k = pe - pb;
      if (me != root) {
        w.recv(root, out(x, k));
        continue;
      }
      for (int i = 1; i < n; ++i) {
        const int to = rotated(root, i, n);
        w.send(to, in(static_cast<uint64_t>(to) * C + x, k));
      }
    }
    if (me == root) w.copy(in(static_cast<uint64_t>(root) * C + a, b - a), out(a, b - a), false);
  }
}

}  // namespace

Plan buildOneShot(const BuildRequest& r) {
  validateRequest(r, "oneshot", {Collective::kAllReduce});
  Plan plan = planHeader(r, "oneshot", channelsOf(r));
  oneShot(r, plan);
  return plan;
}

Plan buildTwoShot(const BuildRequest& r) {
  validateRequest(r, "twoshot", {Collective::kAllReduce});
  Plan plan = planHeader(r, "twoshot", channelsOf(r));
  twoShot(r, plan);
  return plan;
}

Plan buildNvls(const BuildRequest& r) {
  validateRequest(r, "nvls", {Collective::kAllReduce});
  Plan plan = planHeader(r, "nvls", channelsOf(r));
  twoShot(r, plan);
  return plan;
}

Plan buildDirect(const BuildRequest& r) {
  validateRequest(
      r, "direct",
      {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
       Collective::kReduce, Collective::kGather, Collective::kScatter, Collective::kAllToAll});
  if (r.collective == Collective::kAllReduce) {
    // Family name: one-shot when one piece carries the whole message, else two-shot.
    return r.count <= exchangeMessage(r) ? buildOneShot(r) : buildTwoShot(r);
  }
  if (r.collective == Collective::kAllToAll) return buildPairwise(r);
  Plan plan = planHeader(r, "direct", channelsOf(r));
  switch (r.collective) {
    case Collective::kAllGather:
      directAllGather(r, plan);
      break;
    case Collective::kReduceScatter:
      directReduceScatter(r, plan);
      break;
    case Collective::kReduce:
      linearReduce(r, plan);
      break;
    case Collective::kGather:
      linearGather(r, plan);
      break;
    default:
      linearScatter(r, plan);
      break;
  }
  return plan;
}

// Pairwise exchange all-to-all: step s = 1..n-1 sends block (r+s) to rank r+s and receives block
// (r-s) from rank r-s, piece by piece (one phase per piece).
Plan buildPairwise(const BuildRequest& r) {
  validateRequest(r, "pairwise", {Collective::kAllToAll});
  Plan plan = planHeader(r, "pairwise", channelsOf(r));
  const uint64_t msg = exchangeMessage(r);
  const int n = r.nranks, me = r.rank;
  const uint64_t C = r.count;
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(C, c, nch);
    const uint64_t mine = static_cast<uint64_t>(me) * C;
    w.copy(in(mine + a, b - a), out(mine + a, b - a), false);
    for (int s = 1; s < n; ++s) {
      const int to = rotated(me, s, n), from = mod(static_cast<int64_t>(me) - s, n);
      const uint64_t toAt = static_cast<uint64_t>(to) * C, fromAt = static_cast<uint64_t>(from) * C;
      for (const auto& [pb, pe] : pieces(b - a, msg)) {
        w.send(to, in(toAt + a + pb, pe - pb));
        w.recv(from, out(fromAt + a + pb, pe - pb));
      }
    }
  }
  return plan;
}

}  // namespace plexus::algo
