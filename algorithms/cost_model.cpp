// The alpha-beta cost model (cost_model.hpp). Formulas per algorithm; docs/algorithms.md explains
// them. Times in microseconds, bandwidths in GB/s = 10^3 bytes per microsecond.
#include "algorithms/cost_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "algorithms/builders.hpp"
#include "algorithms/registry.hpp"
#include "topology/link_constants.hpp"

namespace plexus::algo {
namespace {

// The double binary tree (tree.cpp, binaryTree) of n ranks in contiguous domains of g, one
// piece, no bytes: the time of its reduce-then-broadcast steps as the plan orders them (a leaf
// sends; an inner rank receives its first child, then its second and sends up; down, it passes
// to its first child, then sends to its second), each step `o`, each edge the intra, inter
// (same rail) or off-rail hop latency. The in-order trees do not align with the domains, so a path
// crosses more often than log2 of the domain count. The slower tree; cached per thread.
double treeSkeletonUs(int n, int g, double intraUs, double interUs, double offRailUs, double o) {
  thread_local double key[6] = {-1, -1, -1, -1, -1, -1};
  thread_local double cached = 0;
  const double k[6] = {
      static_cast<double>(n), static_cast<double>(g), intraUs, interUs, offRailUs, o};
  if (std::equal(k, k + 6, key)) return cached;
  double most = 0;
  for (int which = 0; which < 2; ++which) {
    const std::vector<TreeNode> t = binaryTree(n, which);
    auto lat = [&](int a, int b) {
      return a / g == b / g ? intraUs : a % g == b % g ? interUs : offRailUs;
    };
    std::vector<double> upEnd(static_cast<size_t>(n), 0);  // end of a rank's up steps
    // Up, children before parents: post-order by an explicit stack.
    std::vector<int> order, stack;
    for (int r = 0; r < n; ++r) {
      if (t[static_cast<size_t>(r)].parent < 0) stack.push_back(r);
    }
    while (!stack.empty()) {
      const int r = stack.back();
      stack.pop_back();
      order.push_back(r);
      for (int c : t[static_cast<size_t>(r)].children) stack.push_back(c);
    }
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      double clock = 0;
      for (int c : t[static_cast<size_t>(*it)].children)
        clock = std::max(clock, upEnd[static_cast<size_t>(c)] + lat(c, *it)) + o;
      upEnd[static_cast<size_t>(*it)] = t[static_cast<size_t>(*it)].children.empty() ? o : clock;
    }
    std::vector<double> arrive(static_cast<size_t>(n), 0);
    for (int r : order) {  // parents before children
      const TreeNode& node = t[static_cast<size_t>(r)];
      double clock = upEnd[static_cast<size_t>(r)];
      if (node.parent >= 0) clock = std::max(clock, arrive[static_cast<size_t>(r)]) + o;
      if (node.parent >= 0 && node.children.empty()) most = std::max(most, clock);
      for (size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0 || node.parent < 0) clock += o;
        const int c = node.children[i];
        arrive[static_cast<size_t>(c)] = clock + lat(r, c);
      }
      most = std::max(most, clock);
    }
  }
  std::copy(k, k + 6, key);
  cached = most;
  return most;
}

struct Model {
  const TopologyCosts& k;
  int n = 1, g = 1, m = 1;  // ranks, ranks per domain, domains
  double es = 4;            // bytes per element
  double count = 0;
  int nch = 1;
  double fifo = 0;   // elements, 0 unbounded
  double chunk = 0;  // elements, 0: the limit

  // Bandwidth (bytes/us) of a rank towards one level, capped by its channels.
  double bw(const LinkCost& l) const { return std::min(l.bwGBps, nch * k.channelGBps) * 1e3; }
  double intraBw() const { return bw(k.intra); }
  double interBw() const { return bw(k.inter); }
  // Largest message, bytes: fifo/2 (cyclic) or fifo (acyclic), capped by the chunk.
  double messageBytes(bool cyclic) const {
    double e = fifo > 0 ? (cyclic ? std::max(1.0, std::floor(fifo / 2)) : fifo) : 1e30;
    if (chunk > 0) e = std::min(e, chunk);
    return e * es;
  }
  // Pieces of `bytes` in messages of at most `msg` bytes (at least one when bytes > 0).
  static double piecesOf(double bytes, double msg) {
    return bytes <= 0 ? 0 : std::ceil(bytes / msg);
  }
  double fixed() const { return k.callUs + nch * k.channelUs; }
  // Average latency of a ring hop when rings cross domains m times.
  double ringHopLatency() const {
    const double next = k.neighbourUs > 0 ? k.neighbourUs : k.intra.latencyUs;
    return m > 1 ? (m * k.inter.latencyUs + (n - m) * next) / n : next;
  }
  // Ring bandwidth: inside one domain, or the slower of the domain links and the NICs the rings'
  // crossings use (one NIC per channel, at most g per domain).
  double ringBw() const {
    if (m == 1) return intraBw();
    const double nics = std::min<double>(nch, g) * k.inter.bwGBps * 1e3;
    return std::min(intraBw(), std::min(nics, nch * k.channelGBps * 1e3));
  }
  bool crosses(double distance) const { return m > 1 && distance >= g; }
  double offRail() const { return k.offRailUs > 0 ? k.offRailUs : k.inter.latencyUs; }
  // A partner `distance` ranks away: on the same rail of another domain when the distance is a
  // multiple of the domain size.
  double latencyAt(double distance) const {
    if (!crosses(distance)) return k.intra.latencyUs;
    return std::fmod(distance, g) == 0 ? k.inter.latencyUs : offRail();
  }
  double bwAt(double distance) const { return crosses(distance) ? interBw() : intraBw(); }
  // Per-step overhead of a channel. Oversubscribed ranks (more than one per hardware thread) run
  // their channels on one slice of a core: the channels' steps take turns, so a step of one
  // channel costs the steps of all of them (more channels add overhead, not speed).
  double o() const { return k.messageUs * (k.ranksPerThread > 1 ? nch : 1); }

  // ---- collectives over rings -------------------------------------------------------------
  // Ring with `phases` phases of (n-1) steps each over `bytesPerRank` moved per rank.
  double ring(double phases, double blockBytes) const {
    const double perChannelBlock = blockBytes / nch;
    const double iters = std::max(1.0, piecesOf(perChannelBlock, messageBytes(true)));
    return fixed() + phases * (n - 1) * (ringHopLatency() + iters * o()) +
           phases * (n - 1) * blockBytes / ringBw();
  }
  // Chain (pipelined along the ring) of `bytes`.
  double chain(double bytes) const {
    const double msg = messageBytes(false);
    const double perCh = bytes / nch;
    const double pieces = std::max(1.0, piecesOf(perCh, msg));
    const double piece = perCh / pieces;
    const double perHop = o() + piece / (ringBw() / nch);
    return fixed() + (n - 1) * ringHopLatency() + (n - 2 + pieces) * perHop;
  }
  // Binomial tree of `bytes` (whole data through every edge, pipelined).
  double binomialPipe(double bytes) const {
    const double d = std::ceil(std::log2(std::max(2, n)));
    const double msg = messageBytes(false);
    const double perCh = bytes / nch;
    const double pieces = std::max(1.0, piecesOf(perCh, msg));
    const double piece = perCh / pieces;
    const double lat = m > 1 ? k.inter.latencyUs : k.intra.latencyUs;
    const double b = m > 1 ? std::min(intraBw(), interBw()) : intraBw();
    return fixed() + d * lat + (pieces * d + d) * (o() + piece / (b / nch));
  }

  // ---- all-reduce ------------------------------------------------------------------------
  double ringAllReduce() const { return ring(2, count * es / n); }
  double tree() const {
    const double S = count * es;
    const double d = std::ceil(std::log2(n + 1.0));
    const int pairs = (nch + 1) / 2;
    const double perCh = S / (2.0 * pairs);
    const double msg = messageBytes(false);
    const double pieces = std::max(1.0, piecesOf(perCh, msg));
    const double piece = perCh / pieces;
    const double beta = m > 1 ? std::max(2 * S / intraBw(), S / interBw()) : 2 * S / intraBw();
    const double skeleton =
        treeSkeletonUs(n, g, k.intra.latencyUs, m > 1 ? k.inter.latencyUs : k.intra.latencyUs,
                       m > 1 ? offRail() : k.intra.latencyUs, o());
    return fixed() + skeleton + 2 * d * piece / (intraBw() / (2 * pairs)) + 3 * (pieces - 1) * o() +
           beta;
  }
  // One round of an exchange-style plan (exchange.hpp) over `bytes` (all channels) at
  // `distance`: per channel, `ranges` ranges cut into pieces of at most the message; each piece
  // is a phase of a send (overhead and its bytes) and the receive of the partner's piece
  // (overhead, after the hop's latency), phases in sequence.
  double exchangeRound(double ranges, double bytes, double distance) const {
    const double perRange = bytes / nch / std::max(1.0, ranges);
    const double phases =
        std::max(1.0, ranges) * std::max(1.0, piecesOf(perRange, messageBytes(true)));
    return phases * (latencyAt(distance) + 2 * o()) + bytes / bwAt(distance);
  }
  double rhd() const {
    const double S = count * es;
    const int p = static_cast<int>(std::bit_floor(static_cast<unsigned>(n)));
    double t = fixed();
    double bytes = S;
    for (int d = p / 2; d >= 1; d /= 2) {
      bytes /= 2;
      t += 2 * exchangeRound(1, bytes, d);
    }
    if (p != n) t += 2 * exchangeRound(1, S, 1);
    return t;
  }
  // Direct exchange of `perPeer` bytes with every peer, `rounds` times.
  double directExchange(double perPeer, double rounds) const {
    const double msg = messageBytes(true);
    const double pieces = std::max(1.0, piecesOf(perPeer / nch, msg));
    const double beta =
        std::max((g - 1) * perPeer / intraBw(), m > 1 ? (n - g) * perPeer / interBw() : 0.0);
    const double lat = m > 1 ? k.inter.latencyUs : k.intra.latencyUs;
    return rounds * (lat + 2 * (n - 1) * pieces * o() + beta);
  }
  double oneShot() const {
    const double S = count * es;
    // Each channel reduces its part of the peers' data; channels reduce side by side only where
    // a rank has a core to itself.
    const double reducers = k.ranksPerThread > 1 ? 1 : nch;
    return fixed() + directExchange(S, 1) + n * S / (reducers * k.reduceGBps * 1e3);
  }
  double twoShot() const { return fixed() + directExchange(count * es / n, 2); }
  double nvls() const {
    if (!k.switchReduction || m > 1) return twoShot();
    const double S = count * es;
    const double pieces = std::max(1.0, piecesOf(S / nch, messageBytes(true)));
    return fixed() + 2 * k.intra.latencyUs + 2 * pieces * o() +
           S / (intraBw() * k.switchEfficiency);
  }
  double hier() const {
    const double S = count * es;
    const double msg = messageBytes(true);
    double t = fixed();
    if (g > 1) {  // reduce-scatter + all-gather in the domain
      const double iters = std::max(1.0, piecesOf(S / nch / g, msg));
      t += 2 * (g - 1) * (k.intra.latencyUs + iters * o()) + 2 * (g - 1) * (S / g) / intraBw();
    }
    if (m > 1) {  // all-reduce of 1/g of the data across domains on each rail
      const double iters = std::max(1.0, piecesOf(S / g / nch / m, msg));
      t += 2 * (m - 1) * (k.inter.latencyUs + iters * o()) + 2 * (m - 1) * (S / g / m) / interBw();
    }
    return t;
  }

  // ---- all-gather / reduce-scatter (b = bytes of one rank's block) -------------------------
  // Ranges per channel of `blocks` whole blocks: one run on one channel (adjacent blocks
  // merge, `wraps`: a run that wraps past the end is two), one range per block on several.
  double rangesOf(double blocks, bool wraps = false) const {
    return nch == 1 ? (wraps && blocks > 1 ? 2 : 1) : std::max(1.0, blocks);
  }
  double recursive(double b, bool halving) const {
    const int p = static_cast<int>(std::bit_floor(static_cast<unsigned>(n)));
    double t = fixed();
    for (int d = 1; d < p; d *= 2) {
      // Both directions move d new ranks' blocks at distance d (n / p blocks per new rank).
      const double blocks = d * (static_cast<double>(n) / p);
      t += exchangeRound(rangesOf(blocks), blocks * b, d);
    }
    if (p != n) {  // fold and unfold
      const double in = halving ? n : 1, back = halving ? 1 : n - 1;
      t +=
          exchangeRound(rangesOf(in), in * b, 1) + exchangeRound(rangesOf(back, true), back * b, 1);
    }
    return t;
  }
  double bruck(double b) const {
    double t = fixed();
    for (int d = 1; d < n; d *= 2) {
      const double blocks = std::min(d, n - d);
      t += exchangeRound(rangesOf(blocks, true), blocks * b, d);
    }
    return t;
  }
  double pairwise(double b) const {
    const double msg = messageBytes(true);
    const double pieces = std::max(1.0, piecesOf(b / nch, msg));
    return fixed() + (g - 1) * (k.intra.latencyUs + b / intraBw()) +
           (n - g) * (k.inter.latencyUs + b / interBw()) + 2 * (n - 1) * pieces * o();
  }
  // Root-bound linear gather/scatter: the root moves (n-1) blocks.
  double linear(double b) const {
    const double msg = messageBytes(false);
    const double pieces = std::max(1.0, piecesOf(b / nch, msg));
    return fixed() + (m > 1 ? k.inter.latencyUs : k.intra.latencyUs) + (n - 1) * pieces * o() +
           std::max((g - 1) * b / intraBw(), m > 1 ? (n - g) * b / interBw() : 0.0);
  }
  double binomialBlocks(double b) const {
    const double d = std::ceil(std::log2(std::max(2, n)));
    const double msg = messageBytes(false);
    const double lat = m > 1 ? k.inter.latencyUs : k.intra.latencyUs;
    const double bw = m > 1 ? std::min(intraBw(), interBw()) : intraBw();
    return fixed() + d * (lat + o()) + piecesOf((n - 1) * b / nch, msg) * o() + (n - 1) * b / bw;
  }
  double barrier() const {
    double t = fixed();
    for (int x = 1; x < n; x *= 2) t += latencyAt(x) + 2 * o();
    return t;
  }
};

}  // namespace

TopologyCosts TopologyCosts::sharedMemoryHost() {
  TopologyCosts c;
  c.description = "one host, shared memory";
  c.domainSize = 0;
  c.intra = {topo::kHostCopyGBps, topo::kHostHandoffUs};
  c.inter = c.intra;
  c.channelGBps = 6;
  c.maxChannels = 4;
  c.messageUs = 0.8;
  c.callUs = 4;
  c.channelUs = 0.5;
  c.reduceGBps = 8;
  return c;
}

TopologyCosts TopologyCosts::tcp(double gbps) {
  TopologyCosts c;
  c.description = "tcp, " + std::to_string(static_cast<int>(gbps)) + " Gb/s";
  c.domainSize = 1;
  c.intra = {gbps / 8, topo::kTcpLatencyUs};
  c.inter = {gbps / 8 * topo::kTcpEfficiency, topo::kTcpLatencyUs};
  c.channelGBps = 2.5;
  c.maxChannels = 8;
  c.messageUs = 4;
  c.callUs = 10;
  c.channelUs = 2;
  c.reduceGBps = 8;
  return c;
}

TopologyCosts TopologyCosts::hosts(int ranksPerHost, double gbps) {
  TopologyCosts c = sharedMemoryHost();
  const TopologyCosts net = tcp(gbps);
  c.description = std::to_string(ranksPerHost) + " ranks per host (shared memory), tcp " +
                  std::to_string(static_cast<int>(gbps)) + " Gb/s between hosts";
  c.domainSize = ranksPerHost;
  // The host's NIC is shared by its ranks.
  c.inter = {net.inter.bwGBps / std::max(1, ranksPerHost), net.inter.latencyUs};
  c.messageUs = net.messageUs;
  c.maxChannels = net.maxChannels;
  return c;
}

double predictUs(const std::string& algorithm, const CostQuery& q, const TopologyCosts& k) {
  Model mo{k};
  mo.n = std::max(1, q.nranks);
  const int ds = q.domainSize > 0 ? q.domainSize : k.domainSize;
  mo.g = ds <= 0 || ds >= mo.n ? mo.n : ds;
  mo.m = (mo.n + mo.g - 1) / mo.g;
  mo.es = static_cast<double>(q.elemSize);
  mo.count = static_cast<double>(q.count);
  mo.nch = std::max(1, q.nchannels);
  mo.fifo = static_cast<double>(q.fifoElems);
  mo.chunk = static_cast<double>(q.chunkElems);
  const std::string a = normalizeName(algorithm);
  const double b = mo.count * mo.es;  // one rank's block for the per-block collectives
  if (mo.n == 1) return mo.fixed() + (q.collective == Collective::kBarrier ? 0 : b / mo.intraBw());
  switch (q.collective) {
    case Collective::kAllReduce:
      if (a == "ring") return mo.ringAllReduce();
      if (a == "tree") return mo.tree();
      if (a == "rhd") return mo.rhd();
      if (a == "oneshot") return mo.oneShot();
      if (a == "twoshot") return mo.twoShot();
      if (a == "nvls") return mo.nvls();
      if (a == "hier") return mo.hier();
      break;
    case Collective::kAllGather:
      if (a == "ring") return mo.ring(1, b);
      if (a == "recdoubling") return mo.recursive(b, false);
      if (a == "bruck") return mo.bruck(b);
      if (a == "direct") return mo.fixed() + mo.directExchange(b, 1);
      break;
    case Collective::kReduceScatter:
      if (a == "ring") return mo.ring(1, b);
      if (a == "rechalving") return mo.recursive(b, true);
      if (a == "direct") return mo.fixed() + mo.directExchange(b, 1);
      break;
    case Collective::kBroadcast:
    case Collective::kReduce:
      if (a == "chain") return mo.chain(b);
      if (a == "binomial") return mo.binomialPipe(b);
      if (a == "direct" && q.collective == Collective::kReduce) return mo.linear(b);
      break;
    case Collective::kAllToAll:
      if (a == "pairwise") return mo.pairwise(b);
      break;
    case Collective::kGather:
    case Collective::kScatter:
      if (a == "direct") return mo.linear(b);
      if (a == "binomial") return mo.binomialBlocks(b);
      break;
    case Collective::kBarrier:
      if (a == "dissemination") return mo.barrier();
      break;
    case Collective::kSendRecv:
      break;
  }
  return -1;
}

double callBytes(Collective c, int nranks, uint64_t count, size_t elemSize) {
  const double b = static_cast<double>(count) * static_cast<double>(elemSize);
  switch (c) {
    case Collective::kAllGather:
    case Collective::kReduceScatter:
    case Collective::kAllToAll:
    case Collective::kGather:
    case Collective::kScatter:
      return b * nranks;
    default:
      return b;
  }
}

double busFactor(Collective c, int nranks) {
  const double n = nranks;
  switch (c) {
    case Collective::kAllReduce:
      return n > 1 ? 2 * (n - 1) / n : 1;
    case Collective::kAllGather:
    case Collective::kReduceScatter:
    case Collective::kAllToAll:
    case Collective::kGather:
    case Collective::kScatter:
      return n > 1 ? (n - 1) / n : 1;
    default:
      return 1;
  }
}

}  // namespace plexus::algo
