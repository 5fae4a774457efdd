// A flow-level simulator of collectives: it builds the plans that the registry's builders emit
// for every rank (the algorithm, channel count and chunk size the tuner picks, or a forced
// algorithm with the tuner's best setting for it) and executes them over the topology graph
// (sim_network.hpp), without moving bytes:
//
//   - every step of a channel starts when the previous one ended and, when it receives, when
//     the matching message (FIFO order per sender, receiver and connection) has arrived;
//   - a step costs the per-message overhead (TopologyCosts::messageUs), its local reduction or
//     copy at reduceGBps, and for a send the message's bytes at its flow's rate; the message
//     arrives the route's latency later;
//   - rates: the messages at the same step index of every rank and channel are taken as in
//     flight together and share the links they cross max-min fairly, each also capped by one
//     channel's rate (channelGBps); identical sets of flows are solved once;
//   - pipelining is what the plan does: its pieces (chunks of at most the FIFO) are its steps;
//   - nvls on a reduction-capable switch (one NVLink domain): not its plan (an all-to-all that
//     stands in for multimem on hosts) but what the switch does: per channel and piece, one
//     store up into the switch and one load of the reduced piece down, each crossing the
//     rank's port (and the upper tier where the fabric has one) at switchEfficiency; a port
//     carries (n+1)/n of the buffer each way (multimem load-reduce of its 1/n share reads its
//     whole buffer across the reductions, the store of its share fans out to every rank);
//   - a call adds callUs + nchannels x channelUs;
//   - protocols (sim_protocol.hpp): the steps run once per protocol (its per-step cost, its share
//     of the rates, its set-up per call) and the fastest is kept.
//
// Scale: plans are compacted to 24 bytes a step as they are built; when the steps of all ranks
// would exceed a budget, the FIFO (and chunk) is doubled until they fit (fewer, larger pieces;
// SimResult::scale says by how much). Identical flow sets are solved once.
#pragma once

#include <cstdint>
#include <string>

#include "algorithms/cost_model.hpp"
#include "plan/plan.hpp"
#include "topology/graph.hpp"

namespace plexus::algo {

struct SimCall {
  Collective collective = Collective::kAllReduce;
  int nranks = 0;  // 0: one per GPU (else one per host)
  uint64_t count = 0;
  size_t elemSize = 4;
  std::string algorithm;          // empty: the tuner's pick
  int nchannels = 0;              // > 0: this many channels, pieces of the FIFO (no smaller chunks)
  uint64_t fifoBytes = 4u << 20;  // connection FIFO
  // Calibration (0: the system's figures): a rank's copy bandwidth (CPU ranks' links and every
  // channel's cap), the per-step overhead (on GPUs the Simple protocol's; sim_protocol.hpp has
  // LL's) and the per-call base cost.
  double linkGBps = 0;
  double messageUs = 0;
  double callUs = 0;
  std::string transport;  // CPU systems: "shm" (default) or "tcp" (calibrated figures of each)
  // CPU systems of several hosts: hardware threads all ranks share (network-namespace hosts of
  // one machine); 0: each host has its own.
  int sharedThreads = 0;
  uint64_t stepBudget = 24'000'000;  // compacted steps of all ranks kept at once
};

struct SimResult {
  std::string algorithm;
  std::string protocol;  // the fastest of simProtocols (sim_protocol.hpp)
  int nchannels = 0;
  uint64_t chunkElems = 0;
  double timeUs = 0;      // simulated
  double tunerUs = 0;     // the cost model's prediction for the same setting
  uint64_t steps = 0;     // steps executed (all ranks)
  uint64_t messages = 0;  // messages sent
  uint64_t flowSets = 0;  // distinct sets of concurrent flows solved
  uint64_t scale = 1;     // FIFO multiplier used to stay in the step budget
};

// The ranks a call with `nranks` (0: one per GPU, else one per host) runs on.
int simulatedRanks(const topo::System& system, int nranks);

// Simulates one call on `system`. Throws Error(kInvalidArgument) for calls the algorithm cannot
// run or systems with too few GPUs.
SimResult simulate(const topo::System& system, const SimCall& call);

// `plexus-topo simulate`: an all_reduce_perf-style table per size.
struct SimReportOptions {
  Collective collective = Collective::kAllReduce;
  int nranks = 0;
  size_t elemSize = 4;
  std::string algorithm;
  uint64_t minBytes = 8;
  uint64_t maxBytes = uint64_t{1} << 30;
  int stepFactor = 4;
  uint64_t fifoBytes = 4u << 20;
  int nchannels = 0;                               // as in SimCall
  double linkGBps = 0, messageUs = 0, callUs = 0;  // as in SimCall
  std::string transport;                           // as in SimCall
  int sharedThreads = 0;                           // as in SimCall
};
std::string simulateReport(const topo::System& system, const SimReportOptions& options);

}  // namespace plexus::algo
