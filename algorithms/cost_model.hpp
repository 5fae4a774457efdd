// The alpha-beta cost model of the tuner: predicted time of one call of a built-in algorithm from
// a few figures of the machine (TopologyCosts). The communicator fills TopologyCosts from the
// cluster graph and its transports' costs (topology_costs.hpp has the adapters); defaults exist
// for one host over shared memory and for tcp.
//
// The model (docs/algorithms.md, "Cost model"): ranks sit in domains of `domainSize` ranks (a host,
// an NVLink domain). A step costs the hop latency (intra or inter domain) plus a per-message
// overhead; data moves at the rank's bandwidth to the peers it talks to, capped by what its
// channels can move (nchannels x channelGBps). Each algorithm adds its critical path of hops, its
// messages per channel and its bytes per rank; pipelined ones (trees, chains) pay a fill term of
// one chunk per hop, which is what makes the tuner pick their chunk size.
#pragma once

#include <cstdint>
#include <string>

#include "plan/plan.hpp"

namespace plexus::algo {

struct LinkCost {
  double bwGBps = 0;     // GB/s (10^9 B/s) per direction
  double latencyUs = 0;  // one hop, microseconds
};

struct TopologyCosts {
  std::string description;  // for reports: "1 host, shared memory", "dgx-h100:x16"
  int domainSize = 0;       // ranks per domain; 0 (or >= nranks): all ranks in one domain
  // Link figures come from the topology (topo::link_constants) or the transports' declarations.
  LinkCost intra;  // a rank to the peers of its domain: its bandwidth (all its links)
  LinkCost inter;  // a rank across domains: its share (its rail / NIC), network latency
  // Latency of a crossing between ranks on different rails (local indices), which enters the
  // other domain through the sender's rail and crosses its PCIe / CPU (0: inter.latencyUs).
  double offRailUs = 0;
  // Latency from a rank to the next one of its domain, what a ring hop inside a domain pays where
  // the domain's paths differ (a two-tier NVLink fabric: 0: intra.latencyUs, the slowest path).
  double neighbourUs = 0;
  // GPU ranks: the call runs with the faster of the simulator's protocols (sim_protocol.hpp: LL,
  // Simple), which the tuner models as the simulator runs them; false: one protocol (CPU ranks).
  bool gpuProtocols = false;
  double channelGBps = 5;  // what one channel (one engine lane) moves
  int maxChannels = 8;     // channels the tuner may use
  double messageUs = 1;    // overhead per step of a channel (engine + transport)
  double callUs = 5;       // base cost of a call
  double channelUs = 0.5;  // extra cost per channel per call
  double reduceGBps = 8;   // local reduction speed of one channel
  // Ranks per hardware thread on the busiest host (above 1: oversubscribed). A rank's channels
  // then share its slice of a core: they add messages, not reduction speed.
  double ranksPerThread = 1;
  // The domain's switch reduces in the network (NVLink SHARP / InfiniBand SHARP): the in-switch
  // algorithm moves each byte once up and once down at switchEfficiency of intra bandwidth.
  bool switchReduction = false;
  double switchEfficiency = 1;  // set from topo::kNvlsEfficiency* where a switch reduces

  // One host, ranks talking through the shared-memory transport (memory copies).
  static TopologyCosts sharedMemoryHost();
  // Every rank on its own host, talking tcp over a `gbps` network.
  static TopologyCosts tcp(double gbps = 10);
  // Hosts of `ranksPerHost` ranks: shared memory inside, tcp over a `gbps` network across.
  static TopologyCosts hosts(int ranksPerHost, double gbps = 10);
};

// One call as the model sees it.
struct CostQuery {
  Collective collective = Collective::kAllReduce;
  int nranks = 1;
  uint64_t count = 0;   // the API count
  size_t elemSize = 4;  // bytes per element
  int nchannels = 1;
  uint64_t chunkElems = 0;  // largest message (0: the FIFO's limit)
  uint64_t fifoElems = 0;   // 0: unbounded
  int domainSize = 0;       // 0: TopologyCosts::domainSize
};

// Predicted microseconds of a call with the named built-in algorithm (canonical name); negative
// when the model has no entry for it.
double predictUs(const std::string& algorithm, const CostQuery& q, const TopologyCosts& costs);

// Bytes of one call as nccl-tests counts them (algbw = bytes / time): count x elemSize, times
// nranks for all-gather, reduce-scatter, all-to-all, gather and scatter.
double callBytes(Collective c, int nranks, uint64_t count, size_t elemSize);
// nccl-tests' bus bandwidth factor: all-reduce 2(n-1)/n; all-gather, reduce-scatter, all-to-all
// (n-1)/n; others 1.
double busFactor(Collective c, int nranks);

}  // namespace plexus::algo
