// Internal to the ring-shaped builders (ring.cpp, hier.cpp): a ring over some ranks and the
// rounds that circulate data around it with fused steps (recvReduceSend, recvReduceCopySend,
// recvCopySend). A round moves one piece of every block once around the ring; the caller keeps
// each piece within exchangeMessage() (fifoElems / 2), so that two messages fit in a connection
// FIFO: a fused step holds its incoming message until its outgoing one fits, and with one message
// per FIFO every rank of a ring would wait for its successor.
#pragma once

#include <cstdint>
#include <vector>

#include "algorithms/build_common.hpp"

namespace plexus::algo::detail {

// A ring over some ranks: order[i] sends to order[i + 1]; this rank is at `pos`.
struct RingOrder {
  std::vector<int> order;
  int pos = 0;
  int size() const { return static_cast<int>(order.size()); }
  int at(int64_t i) const { return order[static_cast<size_t>(mod(i, size()))]; }
  int prev() const { return at(pos - 1); }
  int next() const { return at(pos + 1); }
};

// One round of a reduce-scatter: ring position j ends with block j reduced over the ring, written
// to `dst` at this rank. `srcOf(j)` is this rank's slice of block j (any ring position, taken
// modulo the size). Needs at least two ranks.
template <typename SliceOf>
void reduceScatterRound(Writer& w, const RingOrder& g, const SliceOf& srcOf, Slice dst,
                        bool finalize) {
  const int n = g.size(), p = g.pos;
  w.send(g.next(), srcOf(p - 1));
  for (int s = 2; s <= n - 1; ++s) w.recvReduceSend(g.prev(), g.next(), srcOf(p - s));
  w.recvReduce(g.prev(), srcOf(p), dst, finalize);
}

// One round of an all-gather: this rank sends `mine` (its own block) and receives every other
// block into `dstOf(j)`, its slice for the block of ring position j. Needs at least two ranks.
template <typename SliceOf>
void allGatherRound(Writer& w, const RingOrder& g, Slice mine, const SliceOf& dstOf) {
  const int n = g.size(), p = g.pos;
  w.send(g.next(), mine);
  for (int s = 1; s <= n - 2; ++s) w.recvCopySend(g.prev(), g.next(), dstOf(p - s));
  w.recv(g.prev(), dstOf(p + 1));
}

// Ring all-reduce of [x, x + len) from `src` into the output, finalized: rounds of one chunk per
// ring position (chunk j is finished at position j), each chunk at most `msg` elements.
void ringAllReduce(Writer& w, const RingOrder& g, Buffer src, uint64_t x, uint64_t len,
                   uint64_t msg);

}  // namespace plexus::algo::detail
