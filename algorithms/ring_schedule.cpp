// The ring all-reduce shared by the ring and hierarchical builders (ring_schedule.hpp).
#include "algorithms/ring_schedule.hpp"

#include "algorithms/partition.hpp"

namespace plexus::algo::detail {

void ringAllReduce(Writer& w, const RingOrder& g, Buffer src, uint64_t x, uint64_t len,
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
    // Chunk j of this round: part j of n of the round's elements.
    auto chunk = [&, ib = ib, ie = ie](int64_t j, Buffer b) {
      const auto [cb, ce] = evenPart(ie - ib, static_cast<uint64_t>(mod(j, n)), un);
      return at(b, x + ib + cb, ce - cb);
    };
    w.send(g.next(), chunk(p - 1, src));
    for (int s = 2; s <= n - 1; ++s) w.recvReduceSend(g.prev(), g.next(), chunk(p - s, src));
    w.recvReduceCopySend(g.prev(), g.next(), chunk(p, src), chunk(p, Buffer::kOutput), true);
    for (int s = 1; s <= n - 2; ++s)
      w.recvCopySend(g.prev(), g.next(), chunk(p - s, Buffer::kOutput));
    w.recv(g.prev(), chunk(p + 1, Buffer::kOutput));
  }
}

}  // namespace plexus::algo::detail
