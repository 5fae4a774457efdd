// Ring builders (builders.hpp: buildRing): all-reduce, all-gather and reduce-scatter around the
// ring, and broadcast and reduce as pipelined chains along the ring from / to the root. Channel c
// handles channelPart(count, c, nchannels) of the data (of each rank's block for all-gather and
// reduce-scatter) on connection c, with its own ring order (request.rings: one for all channels,
// one per channel, or none for rank order).
//
// Message sizes: the cyclic collectives keep every message within exchangeMessage()
// (fifoElems / 2, see ring_schedule.hpp). The chains have no cycle and use messages of up to
// treeMessage() (fifoElems). fifoElems == 0 means an unbounded FIFO; request.chunkElems, when set,
// caps every message (the tuner's pipelining chunk).
#include "algorithms/build_common.hpp"
#include "algorithms/ring_schedule.hpp"

namespace plexus::algo {
namespace {

using namespace detail;

// Channel c's ring: its order from the request (rank order when none is given) and this rank's
// place in it.
RingOrder ringOf(const BuildRequest& r, int channel) {
  RingOrder ring;
  if (r.rings.empty()) {
    for (int i = 0; i < r.nranks; ++i) ring.order.push_back(i);
  } else {
    ring.order = r.rings[r.rings.size() == 1 ? 0 : static_cast<size_t>(channel)];
  }
  for (int i = 0; i < r.nranks; ++i) {
    if (ring.order[static_cast<size_t>(i)] == r.rank) ring.pos = i;
  }
  return ring;
}

// One channel's steps for its part [a, a + len) of the data (len > 0).
using ChannelBody = void (*)(const BuildRequest& r, Writer& w, const RingOrder& g, uint64_t a,
                             uint64_t len);

// The ring plan: `body` on every channel with a non-empty part.
Plan ringPlan(const BuildRequest& r, ChannelBody body) {
  Plan plan = planHeader(r, "ring", channelsOf(r));
  const int nch = static_cast<int>(plan.channels.size());
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(r.count, c, nch);
    if (b > a) body(r, w, ringOf(r, c), a, b - a);
  }
  return plan;
}

void allReduce(const BuildRequest& r, Writer& w, const RingOrder& g, uint64_t a, uint64_t len) {
  ringAllReduce(w, g, Buffer::kInput, a, len, exchangeMessage(r));
}

// Rank order[j]'s block of the reduce-scatter input holds the elements order[j] ends with.
void reduceScatter(const BuildRequest& r, Writer& w, const RingOrder& g, uint64_t a, uint64_t len) {
  if (g.size() == 1) return w.copy(in(a, len), out(a, len), true);
  for (const auto& [pb, pe] : pieces(len, exchangeMessage(r))) {
    const uint64_t x = a + pb, k = pe - pb;
    auto blockOf = [&](int64_t j) { return in(static_cast<uint64_t>(g.at(j)) * r.count + x, k); };
    reduceScatterRound(w, g, blockOf, out(x, k), true);
  }
}

// This rank's own block is a local copy (the identity when in place); the others circulate.
void allGather(const BuildRequest& r, Writer& w, const RingOrder& g, uint64_t a, uint64_t len) {
  w.copy(in(a, len), out(static_cast<uint64_t>(r.rank) * r.count + a, len), false);
  if (g.size() == 1) return;
  for (const auto& [pb, pe] : pieces(len, exchangeMessage(r))) {
    const uint64_t x = a + pb, k = pe - pb;
    auto blockOf = [&](int64_t j) { return out(static_cast<uint64_t>(g.at(j)) * r.count + x, k); };
    allGatherRound(w, g, in(x, k), blockOf);
  }
}

// Distance from the root along the ring: the chains run from d = 0 (broadcast) or to it (reduce).
int distanceFromRoot(const BuildRequest& r, const RingOrder& g) {
  int rootPos = 0;
  for (int i = 0; i < g.size(); ++i) {
    if (g.order[static_cast<size_t>(i)] == r.root) rootPos = i;
  }
  return mod(g.pos - rootPos, g.size());
}

void broadcast(const BuildRequest& r, Writer& w, const RingOrder& g, uint64_t a, uint64_t len) {
  const int n = g.size(), d = distanceFromRoot(r, g);
  if (d == 0) w.copy(in(a, len), out(a, len), false);
  if (n == 1) return;
  for (const auto& [pb, pe] : pieces(len, treeMessage(r))) {
    const uint64_t x = a + pb, k = pe - pb;
    if (d == 0)
      w.send(g.next(), in(x, k));
    else if (d < n - 1)
      w.recvCopySend(g.prev(), g.next(), out(x, k));
    else
      w.recv(g.prev(), out(x, k));
  }
}

// The chain runs d = 1, 2, ..., n-1 and ends at the root (d = 0).
void reduce(const BuildRequest& r, Writer& w, const RingOrder& g, uint64_t a, uint64_t len) {
  if (g.size() == 1) return w.copy(in(a, len), out(a, len), true);
  const int d = distanceFromRoot(r, g);
  for (const auto& [pb, pe] : pieces(len, treeMessage(r))) {
    const uint64_t x = a + pb, k = pe - pb;
    if (d == 1)
      w.send(g.next(), in(x, k));
    else if (d > 1)
      w.recvReduceSend(g.prev(), g.next(), in(x, k));
    else
      w.recvReduce(g.prev(), in(x, k), out(x, k), true);
  }
}

ChannelBody bodyOf(Collective c) {
  switch (c) {
    case Collective::kAllReduce:
      return allReduce;
    case Collective::kReduceScatter:
      return reduceScatter;
    case Collective::kAllGather:
      return allGather;
    case Collective::kBroadcast:
      return broadcast;
    default:
      return reduce;
  }
}

}  // namespace

Plan buildRing(const BuildRequest& r) {
  const bool cyclic = r.collective != Collective::kBroadcast && r.collective != Collective::kReduce;
  validateRequest(r, "ring",
                  {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                   Collective::kBroadcast, Collective::kReduce},
                  {.ringOrders = true, .twoMessages = cyclic});
  return ringPlan(r, bodyOf(r.collective));
}

}  // namespace plexus::algo
