// The simulator's calibration (algorithms/sim_protocol.hpp): its GPU protocol constants were
// fitted on the published 8 x A100 all-reduce sweep (../shared/REFERENCE.md: Azure ND A100 v4,
// NCCL 2.18, in-place busbw); every point of that sweep must stay within 10 % of busbw. Then the
// validation points of docs/simulator.md that were not used for fitting and are within the
// issue's goal (+-10 % busbw at >= 64 MB, within 2x of the time at 8 B) must stay there; the
// GB200 NVL72 points, which are not, are documented there and not asserted.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "algorithms/cost_model.hpp"
#include "algorithms/sim_protocol.hpp"
#include "algorithms/simulator.hpp"
#include "base/error.hpp"
#include "topology/synthetic.hpp"

namespace plexus::algo {
namespace {

double busbwOf(const topo::System& sys, uint64_t bytes, const char* algo = "") {
  SimCall call;
  call.count = bytes / 4;
  call.algorithm = algo;
  const SimResult r = simulate(sys, call);
  const int n = simulatedRanks(sys, 0);
  return static_cast<double>(bytes) / (r.timeUs * 1e3) * busFactor(Collective::kAllReduce, n);
}

double timeOf(const topo::System& sys, uint64_t bytes) {
  SimCall call;
  call.count = bytes / 4;
  return simulate(sys, call).timeUs;
}

TEST(SimCalibration, EightA100SweepWithinTenPercent) {
  const topo::System sys = topo::makeSyntheticSystem("dgx-a100");
  const std::vector<std::pair<uint64_t, double>> sweep = {
      {1ull << 10, 0.04},     {8ull << 10, 0.33},   {64ull << 10, 2.70},   {256ull << 10, 10.11},
      {1ull << 20, 36.22},    {4ull << 20, 71.43},  {16ull << 20, 109.22}, {64ull << 20, 166.63},
      {256ull << 20, 213.87}, {1ull << 30, 228.10}, {4ull << 30, 230.48},  {8ull << 30, 231.58}};
  for (const auto& [bytes, published] : sweep) {
    const double predicted = busbwOf(sys, bytes);
    EXPECT_NEAR(predicted / published, 1.0, 0.10)
        << bytes << " B: predicted " << predicted << " GB/s, published " << published;
  }
}

TEST(SimCalibration, ProtocolsSwitchWithSize) {
  const topo::System sys = topo::makeSyntheticSystem("dgx-a100");
  SimCall call;
  call.count = 256;  // 1 KB
  EXPECT_EQ(simulate(sys, call).protocol, "LL");
  call.count = (uint64_t{1} << 30) / 4;
  EXPECT_EQ(simulate(sys, call).protocol, "Simple");
  // CPU ranks have one protocol.
  const topo::System cpu = topo::makeSyntheticSystem("cpu");
  call.count = 1024;
  call.nranks = 2;
  EXPECT_EQ(simulate(cpu, call).protocol, "copy");
}

// Validation (not fitted): 8 x H100 ring 370 GB/s and NVLS 476-480 GB/s at 4-8 GB
// (NVIDIA/nccl-tests#212, #290); 8 B on 8 x H20 (NVLink 4) 12.49 us (deepseek-ai/DeepEP#303) and
// on 2 x 8 H20 47.60 us (NVIDIA/nccl#1244).
TEST(SimCalibration, ValidationPointsWithinTheGoal) {
  const topo::System h100 = topo::makeSyntheticSystem("dgx-h100");
  EXPECT_NEAR(busbwOf(h100, uint64_t{8} << 30, "ring") / 370, 1.0, 0.10);
  EXPECT_NEAR(busbwOf(h100, uint64_t{4} << 30) / 476, 1.0, 0.10);
  EXPECT_NEAR(busbwOf(h100, uint64_t{8} << 30) / 480, 1.0, 0.10);
  const double small = timeOf(h100, 8) / 12.49;
  EXPECT_GT(small, 0.5);
  EXPECT_LT(small, 2.0);
  const double twoHosts = timeOf(topo::makeSyntheticSystem("dgx-h100:x2"), 8) / 47.60;
  EXPECT_GT(twoHosts, 0.5);
  EXPECT_LT(twoHosts, 2.0);
}

// The CPU figures (kCpu*) were fitted on 2-rank shm all_reduce_perf here (out-of-place time,
// median of 3 runs on a quiet machine, docs/simulator.md "Against runs here"): every point stays
// within 2x, and within 20 % from 256 KB up where the copies dominate.
TEST(SimCalibration, TwoRankSharedMemoryRunsHere) {
  const topo::System cpu = topo::makeSyntheticSystem("cpu");
  const std::vector<std::pair<uint64_t, double>> measured = {
      {8, 0.76},     {64, 2.72},      {512, 1.61},       {4096, 2.08},
      {32768, 7.72}, {262144, 27.02}, {2097152, 182.60}, {16777216, 3098.00}};
  for (const auto& [bytes, us] : measured) {
    SimCall call;
    call.nranks = 2;
    call.count = bytes / 4;
    call.transport = "shm";
    const SimResult r = simulate(cpu, call);
    const double ratio = r.timeUs / us;
    EXPECT_GT(ratio, bytes >= 262144 ? 0.8 : 0.5) << bytes << " B: " << r.timeUs << " us";
    EXPECT_LT(ratio, bytes >= 262144 ? 1.2 : 2.0) << bytes << " B: " << r.timeUs << " us";
  }
}

// More ranks than hardware threads are time-sliced: per-step costs grow with ranks per thread.
TEST(SimCalibration, OversubscribedCpuRanksAreTimeSliced) {
  const TopologyCosts two = cpuCosts(CpuTransport::kShm, 2, 2, 1024);
  const TopologyCosts eight = cpuCosts(CpuTransport::kShm, 8, 2, 1024);
  EXPECT_DOUBLE_EQ(eight.messageUs, 4 * two.messageUs);
  EXPECT_DOUBLE_EQ(eight.intra.bwGBps, two.intra.bwGBps / 4);
  EXPECT_DOUBLE_EQ(eight.intra.latencyUs, 4 * kCpuContextSwitchUs);
  // Beyond the last-level cache the copies run at the memory rate.
  EXPECT_DOUBLE_EQ(cpuCosts(CpuTransport::kShm, 2, 2, 64.0 * (1 << 20)).intra.bwGBps,
                   kCpuMemoryCopyGBps);
  const topo::System cpu = topo::makeSyntheticSystem("cpu");
  SimCall call;
  call.nranks = 2;
  call.count = 2;
  call.transport = "udp";
  EXPECT_THROW(simulate(cpu, call), Error);
}

// Oversubscribed ranks time-share their channels: in the simulator, as in the cost model, a
// second channel of an 8-rank two-shot on this machine's 2 threads adds time (it took a seventh
// off when channels ran side by side).
TEST(SimCalibration, OversubscribedRanksTimeShareTheirChannels) {
  const topo::System cpu = topo::makeSyntheticSystem("cpu");
  SimCall call;
  call.nranks = 8;
  call.count = (uint64_t{8} << 20) / 4;
  call.algorithm = "twoshot";
  call.nchannels = 1;
  const double one = simulate(cpu, call).timeUs;
  call.nchannels = 2;
  EXPECT_GT(simulate(cpu, call).timeUs, one);
}

// Hosts of CPU ranks: the fitted shm figures inside a host, tcp at the NIC's rate across; hosts
// that are network namespaces of one machine share its threads and are time-sliced over all ranks.
TEST(SimCalibration, NamespaceHostsShareTheMachinesThreads) {
  const TopologyCosts hosts = TopologyCosts::hosts(2, 10);
  const TopologyCosts own = cpuHostsCosts(hosts, 8, 2, 2, 0, 1024);
  EXPECT_DOUBLE_EQ(own.intra.bwGBps, kCpuCacheCopyGBps);  // 2 ranks on a host's 2 threads
  EXPECT_DOUBLE_EQ(own.inter.bwGBps, hosts.inter.bwGBps);
  EXPECT_DOUBLE_EQ(own.messageUs, hosts.messageUs);
  const TopologyCosts shared = cpuHostsCosts(hosts, 8, 2, 2, 2, 1024);  // 8 ranks, 2 threads
  EXPECT_DOUBLE_EQ(shared.intra.bwGBps, kCpuCacheCopyGBps / 4);
  EXPECT_DOUBLE_EQ(shared.messageUs, 4 * hosts.messageUs);
  EXPECT_DOUBLE_EQ(shared.inter.bwGBps, hosts.inter.bwGBps);  // the NIC's, not the cores'
  EXPECT_GE(shared.inter.latencyUs, 4 * kCpuContextSwitchUs);
  // The simulator: the same system is slower when its hosts share 2 threads.
  const topo::System four = topo::makeSyntheticSystem("cpu:x4,nic=10");
  SimCall call;
  call.nranks = 8;
  call.count = 2;
  const double alone = simulate(four, call).timeUs;
  call.sharedThreads = 2;
  EXPECT_GT(simulate(four, call).timeUs, 2 * alone);
}

}  // namespace
}  // namespace plexus::algo
