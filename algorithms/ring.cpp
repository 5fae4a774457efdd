// Ring builders (builders.hpp): all-reduce, all-gather and reduce-scatter around the ring, and
// broadcast and reduce as pipelined chains along the ring from / to the root. Channel c handles
// channelPart(count, c, nchannels) of the data (of each rank's block for all-gather and
// reduce-scatter) on connection c, with its own ring order.
//
// Message sizes: the cyclic collectives (all-reduce, all-gather, reduce-scatter) keep every
// message within fifoElems / 2 so that two messages fit in a connection FIFO: a fused step holds
// its incoming message until its outgoing one fits, and with one message per FIFO every rank of a
// ring would wait for its successor. The chains (broadcast, reduce) have no cycle and use
// messages of up to fifoElems. fifoElems == 0 means an unbounded FIFO; request.chunkElems, when
// set, caps every message (the tuner's pipelining chunk).
#include <algorithm>
#include <cinttypes>
#include <limits>

#include "algorithms/build_common.hpp"
#include "algorithms/builders.hpp"
#include "algorithms/partition.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace {

Slice in(uint64_t offset, uint64_t count) {
  return {Buffer::kInput, offset, count};
}
Slice out(uint64_t offset, uint64_t count) {
  return {Buffer::kOutput, offset, count};
}

// Appends steps to one channel; zero-element steps are dropped (every rank drops the same chunk,
// so the sender and the receiver of a message agree).
class StepWriter {
 public:
  StepWriter(Channel& channel, int prev, int next) : ch_(channel), prev_(prev), next_(next) {}

  void send(Slice src) { add(StepKind::kSend, src, {}, false); }
  void recv(Slice dst) { add(StepKind::kRecv, {}, dst, false); }
  void recvReduce(Slice src, Slice dst, bool fin) { add(StepKind::kRecvReduce, src, dst, fin); }
  void recvReduceSend(Slice src) { add(StepKind::kRecvReduceSend, src, {}, false); }
  void recvReduceCopySend(Slice src, Slice dst, bool fin) {
    add(StepKind::kRecvReduceCopySend, src, dst, fin);
  }
  void recvCopySend(Slice dst) { add(StepKind::kRecvCopySend, {}, dst, false); }
  void copy(Slice src, Slice dst, bool fin) { add(StepKind::kCopy, src, dst, fin); }

 private:
  void add(StepKind kind, Slice src, Slice dst, bool fin) {
    Step s;
    s.kind = kind;
    s.src = src;
    s.dst = dst;
    s.finalize = fin;
    if (s.count() == 0) return;
    if (stepReceives(kind)) s.recvPeer = prev_;
    if (stepSends(kind)) s.sendPeer = next_;
    ch_.steps.push_back(s);
  }

  Channel& ch_;
  int prev_;
  int next_;
};

struct Ring {
  std::vector<int> order;  // order[i] sends to order[i + 1]
  int pos = 0;             // this rank's index in order
  int n = 1;
  int at(int64_t i) const { return order[static_cast<size_t>(((i % n) + n) % n)]; }
  int prev() const { return at(pos - 1); }
  int next() const { return at(pos + 1); }
};

Ring resolveRing(const BuildRequest& r, int channel) {
  Ring ring;
  ring.n = r.nranks;
  if (r.rings.empty()) {
    ring.order.resize(static_cast<size_t>(r.nranks));
    for (int i = 0; i < r.nranks; ++i) ring.order[static_cast<size_t>(i)] = i;
  } else {
    ring.order = r.rings.size() == 1 ? r.rings[0] : r.rings[static_cast<size_t>(channel)];
  }
  for (int i = 0; i < r.nranks; ++i) {
    if (ring.order[static_cast<size_t>(i)] == r.rank) ring.pos = i;
  }
  return ring;
}

void validate(const BuildRequest& r) {
  const char* coll = collectiveName(r.collective);
  if (r.nranks < 1)
    throwError(ErrorCode::kInvalidArgument, "ring %s: nranks %d < 1", coll, r.nranks);
  if (r.rank < 0 || r.rank >= r.nranks) {
    throwError(ErrorCode::kInvalidArgument, "ring %s: rank %d outside 0..%d", coll, r.rank,
               r.nranks - 1);
  }
  if (r.nchannels < 1 || r.nchannels > kMaxChannels) {
    throwError(ErrorCode::kInvalidArgument, "ring %s: nchannels %d outside 1..%d", coll,
               r.nchannels, kMaxChannels);
  }
  const bool cyclic = r.collective == Collective::kAllReduce ||
                      r.collective == Collective::kAllGather ||
                      r.collective == Collective::kReduceScatter;
  if (cyclic && r.nranks > 1 && r.fifoElems == 1) {
    throwError(ErrorCode::kInvalidArgument,
               "ring %s: fifoElems %" PRIu64
               " is too small: a ring needs two messages in flight per connection (>= 2 elements)",
               coll, r.fifoElems);
  }
  if ((r.collective == Collective::kBroadcast || r.collective == Collective::kReduce) &&
      (r.root < 0 || r.root >= r.nranks)) {
    throwError(ErrorCode::kInvalidArgument, "ring %s: root %d outside 0..%d", coll, r.root,
               r.nranks - 1);
  }
  if (!r.rings.empty() && r.rings.size() != 1 &&
      r.rings.size() != static_cast<size_t>(r.nchannels)) {
    throwError(ErrorCode::kInvalidArgument,
               "ring %s: %zu ring orders given for %d channels (give 1 or one per channel)", coll,
               r.rings.size(), r.nchannels);
  }
  for (size_t i = 0; i < r.rings.size(); ++i) {
    const std::vector<int>& ring = r.rings[i];
    std::vector<char> seen(static_cast<size_t>(r.nranks), 0);
    bool ok = ring.size() == static_cast<size_t>(r.nranks);
    for (int x : ring) {
      if (!ok) break;
      if (x < 0 || x >= r.nranks || seen[static_cast<size_t>(x)])
        ok = false;
      else
        seen[static_cast<size_t>(x)] = 1;
    }
    if (!ok) {
      throwError(ErrorCode::kInvalidArgument,
                 "ring %s: ring order %zu is not a permutation of 0..%d", coll, i, r.nranks - 1);
    }
  }
  if (r.collective == Collective::kAllGather || r.collective == Collective::kReduceScatter) {
    if (r.count > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(r.nranks)) {
      throwError(ErrorCode::kInvalidArgument, "ring %s: count %" PRIu64 " x %d ranks overflows",
                 coll, r.count, r.nranks);
    }
  }
}

}  // namespace

std::pair<uint64_t, uint64_t> channelPart(uint64_t count, int channel, int nchannels) {
  return evenPart(count, static_cast<uint64_t>(channel), static_cast<uint64_t>(nchannels));
}

Plan buildRing(const BuildRequest& r) {
  validate(r);
  const uint64_t n = static_cast<uint64_t>(r.nranks);
  Plan plan;
  plan.algorithm = "ring";
  plan.collective = r.collective;
  plan.nranks = r.nranks;
  plan.rank = r.rank;
  plan.count = r.count;
  plan.fifoElems = r.fifoElems;
  const bool isRoot = r.rank == r.root;
  switch (r.collective) {
    case Collective::kAllReduce:
      plan.inputCount = plan.outputCount = r.count;
      break;
    case Collective::kAllGather:
      plan.inputCount = r.count;
      plan.outputCount = n * r.count;
      break;
    case Collective::kReduceScatter:
      plan.inputCount = n * r.count;
      plan.outputCount = r.count;
      break;
    case Collective::kBroadcast:
      plan.root = r.root;
      plan.inputCount = isRoot ? r.count : 0;
      plan.outputCount = r.count;
      break;
    case Collective::kReduce:
      plan.root = r.root;
      plan.inputCount = r.count;
      plan.outputCount = isRoot ? r.count : 0;
      break;
    default:
      throwError(ErrorCode::kInvalidArgument, "the ring builder does not implement %s",
                 collectiveName(r.collective));
  }

  const uint64_t ringMsg = detail::exchangeMessage(r);  // fifoElems / 2; 0: unbounded
  const uint64_t chainMsg = detail::treeMessage(r);     // fifoElems; capped by chunkElems
  plan.channels.resize(static_cast<size_t>(r.nchannels));
  for (int c = 0; c < r.nchannels; ++c) {
    Channel& ch = plan.channels[static_cast<size_t>(c)];
    ch.connection = c;
    const Ring ring = resolveRing(r, c);
    StepWriter w(ch, ring.prev(), ring.next());
    const auto [a, b] = channelPart(r.count, c, r.nchannels);
    const uint64_t len = b - a;
    if (len == 0) continue;
    const int nr = r.nranks;
    const int p = ring.pos;

    switch (r.collective) {
      case Collective::kAllReduce: {
        if (nr == 1) {
          w.copy(in(a, len), out(a, len), true);
          break;
        }
        // Iterations of nranks chunks each; chunk j (a ring position) is finished at order[j].
        const uint64_t perChunk = (len + n - 1) / n;
        const uint64_t iters = partsOfAtMost(perChunk, ringMsg);
        for (uint64_t it = 0; it < iters; ++it) {
          const auto [ib, ie] = evenPart(len, it, iters);
          auto chunk = [&, ib = ib, ie = ie](int64_t j) {
            const auto [cb, ce] = evenPart(ie - ib, static_cast<uint64_t>(((j % nr) + nr) % nr), n);
            return std::pair<uint64_t, uint64_t>{a + ib + cb, ce - cb};
          };
          auto [o0, c0] = chunk(p - 1);
          w.send(in(o0, c0));
          for (int s = 2; s <= nr - 1; ++s) {
            auto [o, cnt] = chunk(p - s);
            w.recvReduceSend(in(o, cnt));
          }
          auto [om, cm] = chunk(p);
          w.recvReduceCopySend(in(om, cm), out(om, cm), true);
          for (int s = 1; s <= nr - 2; ++s) {
            auto [o, cnt] = chunk(p - s);
            w.recvCopySend(out(o, cnt));
          }
          auto [ol, cl] = chunk(p + 1);
          w.recv(out(ol, cl));
        }
        break;
      }
      case Collective::kReduceScatter: {
        if (nr == 1) {
          w.copy(in(a, len), out(a, len), true);
          break;
        }
        const uint64_t iters = partsOfAtMost(len, ringMsg);
        for (uint64_t it = 0; it < iters; ++it) {
          const auto [pb, pe] = evenPart(len, it, iters);
          const uint64_t x = a + pb, cnt = pe - pb;
          auto block = [&](int64_t i) { return static_cast<uint64_t>(ring.at(i)) * r.count + x; };
          w.send(in(block(p - 1), cnt));
          for (int s = 2; s <= nr - 1; ++s) w.recvReduceSend(in(block(p - s), cnt));
          w.recvReduce(in(block(p), cnt), out(x, cnt), true);
        }
        break;
      }
      case Collective::kAllGather: {
        // This rank's own block: a local copy (the identity when in place).
        w.copy(in(a, len), out(static_cast<uint64_t>(r.rank) * r.count + a, len), false);
        if (nr == 1) break;
        const uint64_t iters = partsOfAtMost(len, ringMsg);
        for (uint64_t it = 0; it < iters; ++it) {
          const auto [pb, pe] = evenPart(len, it, iters);
          const uint64_t x = a + pb, cnt = pe - pb;
          auto block = [&](int64_t i) { return static_cast<uint64_t>(ring.at(i)) * r.count + x; };
          w.send(in(x, cnt));
          for (int s = 1; s <= nr - 2; ++s) w.recvCopySend(out(block(p - s), cnt));
          w.recv(out(block(p + 1), cnt));
        }
        break;
      }
      case Collective::kBroadcast: {
        int rootPos = 0;
        for (int i = 0; i < nr; ++i) {
          if (ring.order[static_cast<size_t>(i)] == r.root) rootPos = i;
        }
        const int d = ((p - rootPos) % nr + nr) % nr;  // distance from the root along the chain
        if (d == 0) w.copy(in(a, len), out(a, len), false);
        if (nr == 1) break;
        const uint64_t iters = partsOfAtMost(len, chainMsg);
        for (uint64_t it = 0; it < iters; ++it) {
          const auto [pb, pe] = evenPart(len, it, iters);
          const uint64_t x = a + pb, cnt = pe - pb;
          if (d == 0)
            w.send(in(x, cnt));
          else if (d < nr - 1)
            w.recvCopySend(out(x, cnt));
          else
            w.recv(out(x, cnt));
        }
        break;
      }
      case Collective::kReduce: {
        if (nr == 1) {
          w.copy(in(a, len), out(a, len), true);
          break;
        }
        int rootPos = 0;
        for (int i = 0; i < nr; ++i) {
          if (ring.order[static_cast<size_t>(i)] == r.root) rootPos = i;
        }
        const int d = ((p - rootPos) % nr + nr) % nr;  // the chain runs d = 1, 2, ..., n-1, 0
        const uint64_t iters = partsOfAtMost(len, chainMsg);
        for (uint64_t it = 0; it < iters; ++it) {
          const auto [pb, pe] = evenPart(len, it, iters);
          const uint64_t x = a + pb, cnt = pe - pb;
          if (d == 1)
            w.send(in(x, cnt));
          else if (d > 1)
            w.recvReduceSend(in(x, cnt));
          else
            w.recvReduce(in(x, cnt), out(x, cnt), true);
        }
        break;
      }
      default:
        break;
    }
  }
  return plan;
}

}  // namespace plexus::algo
