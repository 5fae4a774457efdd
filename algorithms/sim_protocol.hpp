// How the simulator (simulator.hpp) carries a call's steps, and the constants it was calibrated
// with. GPU ranks: NCCL runs every call with one of a few protocols and its tuner keeps the
// fastest; the simulator does the same with two of them:
//
//   - LL (NCCL's LL / LL128: flags travel with the data, so part of each line carries flags, not
//     data, and nothing is set up per call): a per-step cost and a fraction of the link's rate,
//     tried up to a size limit;
//   - Simple (bulk copies through the FIFO, a fence and a flag per step): the per-step overhead
//     of the cost model (TopologyCosts::messageUs), the full rate, and a fixed set-up per call.
//
// The names say which regime of NCCL each stands for; the figures are the fit's, not NCCL's (the
// fitted LL per-step cost is larger than Simple's, which NCCL's own figures are not).
//
// Every fitted constant was fitted on the published 8 x A100 sweep (../shared/REFERENCE.md,
// Azure ND A100 v4, NCCL 2.18) and nothing else; the validation points of docs/simulator.md
// were not used. CPU ranks (no GPUs): one protocol (memory copies or tcp), figures fitted on
// 2-rank all_reduce_perf runs on this machine (docs/simulator.md, "Against runs here").
#pragma once

#include <string>
#include <vector>

#include "algorithms/cost_model.hpp"

namespace plexus::algo {

struct SimProtocol {
  std::string name;
  double stepUs = 0;      // overhead per step of a channel (replaces TopologyCosts::messageUs)
  double bwFraction = 1;  // share of a flow's rate that carries data
  double setupUs = 0;     // added once per call
  double maxBytes = 0;    // largest call (bytes of a rank's buffer) it is used for; 0: any
};

// ---- GPU protocols, fitted on the 8 x A100 sweep only (least squares of log busbw over its 12
// points, 1 KB-8 GB, by a grid over the three constants; the fit is within -9..+6 % at every point;
// tests/algorithms/sim_calibration_test.cpp checks it stays within 10 %) -----------------------
// LL per-step cost. Fitted: 2.5 us, on the sweep's floor (1 KB-256 KB: 42-45 us). The floor alone
// cannot tell a per-call cost from a per-step cost (every size runs the same steps); the per-call
// cost stays NCCL's published base latency (TopologyCosts::callUs, 7 us; REFERENCE: "base per
// call about 6.6-8.4") and the rest of the floor is put on the steps. NCCL's own LL / LL128 hop
// latencies on NVLink are 0.6 / 1.9 us (REFERENCE); the sweep needs more.
constexpr double kLlStepUs = 2.5;
// LL share of a flow's rate. Fitted: 0.55, on the sweep's 1 MB-16 MB slope (busbw 105-133 GB/s
// there against 232 at 8 GB). NCCL's own figures: 1/2 for LL (8-byte lines, 4 of them data) and
// 120/128 for LL128; the sweep sits near LL's.
constexpr double kLlBwFraction = 0.55;
// LL is not tried above this size. Not fitted (the fit does not depend on it between 16 MB and
// 64 MB; LL never wins above 16 MB): it bounds the work, as NCCL bounds LL / LL128 by size.
constexpr double kLlMaxBytes = 64.0 * (1 << 20);
// Simple set-up per call. Fitted: 200 us, on the sweep's large sizes (64 MB-8 GB run 140-200 us
// longer than their bytes at the 8 GB rate). NCCL's model has no such term (its Simple ring
// latency for 8 ranks is 8.4 + 14 x 3.4 = 56 us); it is what the published sweep shows. The Simple
// per-step cost is the cost model's TopologyCosts::messageUs (1 us, shared with the tuner).
constexpr double kSimpleSetupUs = 200.0;

// ---- CPU ranks (shared memory or tcp on one host), fitted on this machine's 2-rank runs ------
enum class CpuTransport { kShm, kTcp };
// Fitted on 2-rank shm all_reduce_perf here (out-of-place time, median of 3 runs, 8 B-16 MB by 8x,
// a quiet machine; least squares of log time by a grid; docs/simulator.md, "Against runs here"):
constexpr double kCpuCallUs = 0.2;        // per call
constexpr double kCpuStepUs = 0.15;       // per step of a channel (and per channel of a call)
constexpr double kCpuHandoffUs = 0.7;     // a message's latency (a cache-line handoff)
constexpr double kCpuCacheCopyGBps = 15;  // a rank's copy / reduce rate, working set in cache
constexpr double kCpuMemoryCopyGBps = 6;  // the same, working set beyond the last-level cache
// Not fitted: this machine's L3 (lscpu: 32 MiB, AMD EPYC, 2 cores); the working set of a call is
// taken as each rank's send and receive buffers.
constexpr double kCpuLastLevelCacheBytes = 32.0 * (1 << 20);
// Not fitted: the time-slicing figure the communicator's own costs use (costsFromCluster).
constexpr double kCpuContextSwitchUs = 5;
// Overrides a CPU system's costs with the figures of `transport` for `nranks` ranks on a host with
// `hwThreads` hardware threads and buffers of `bufferBytes` a rank; more ranks than threads are
// time-sliced. tcp keeps TopologyCosts::tcp()'s planning figures (not fitted: loopback tcp was
// only validated) with the copy rates of shm.
TopologyCosts cpuCosts(CpuTransport transport, int nranks, int hwThreads, double bufferBytes);
// `over` ranks per hardware thread (> 1): a step that waits for a peer waits for it to be
// scheduled (a context switch per waiting rank ahead of it) and the cores' work is shared. The
// network's bandwidth (`inter`) is the NIC's, not the cores': only its latency grows, unless
// `sameLinks` (one host: inter is intra).
void timeSlice(TopologyCosts& costs, double over, bool sameLinks);
// Several hosts of CPU ranks (`hostCosts`: TopologyCosts::hosts, tcp at the NIC's rate across):
// inside a host the fitted shm figures for `ranksPerHost` ranks on `hostThreads` threads. With
// `sharedThreads` > 0 every rank of all `nranks` shares that many hardware threads, as ranks in
// network namespaces of one machine do (tests/netns): time-sliced over all of them.
TopologyCosts cpuHostsCosts(TopologyCosts hostCosts, int nranks, int ranksPerHost, int hostThreads,
                            int sharedThreads, double bufferBytes);

// The protocols a call is simulated with (the fastest is kept).
std::vector<SimProtocol> simProtocols(const TopologyCosts& costs, bool gpuRanks);

}  // namespace plexus::algo
