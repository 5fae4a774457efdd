// The simulator's protocols and calibrated CPU figures (sim_protocol.hpp).
#include "algorithms/sim_protocol.hpp"

#include <algorithm>

namespace plexus::algo {

TopologyCosts cpuCosts(CpuTransport transport, int nranks, int hwThreads, double bufferBytes) {
  const bool inCache = 2.0 * nranks * bufferBytes <= kCpuLastLevelCacheBytes;
  const double copy = inCache ? kCpuCacheCopyGBps : kCpuMemoryCopyGBps;
  TopologyCosts c;
  if (transport == CpuTransport::kTcp) {
    c = TopologyCosts::tcp();
  } else {
    c = TopologyCosts::sharedMemoryHost();
    c.callUs = kCpuCallUs;
    c.messageUs = kCpuStepUs;
    c.intra = {copy, kCpuHandoffUs};
    c.inter = c.intra;
    c.channelGBps = copy;
    c.channelUs = kCpuStepUs;
  }
  c.reduceGBps = copy;
  // More ranks than hardware threads: time-sliced, as costsFromCluster models it for the
  // communicator (topology_costs.cpp).
  const double over = hwThreads > 0 ? static_cast<double>(nranks) / hwThreads : 1;
  if (over > 1) timeSlice(c, over, transport == CpuTransport::kShm);
  return c;
}

void timeSlice(TopologyCosts& c, double over, bool sameLinks) {
  if (over <= 1) return;
  c.ranksPerThread = over;
  c.intra.latencyUs = std::max(c.intra.latencyUs, kCpuContextSwitchUs * over);
  c.intra.bwGBps /= over;
  c.reduceGBps /= over;
  c.messageUs *= over;
  c.channelUs *= over;
  if (sameLinks) {
    c.inter = c.intra;
  } else {
    c.inter.latencyUs = std::max(c.inter.latencyUs, kCpuContextSwitchUs * over);
  }
}

TopologyCosts cpuHostsCosts(TopologyCosts c, int nranks, int ranksPerHost, int hostThreads,
                            int sharedThreads, double bufferBytes) {
  const TopologyCosts shm =
      cpuCosts(CpuTransport::kShm, ranksPerHost, sharedThreads > 0 ? 0 : hostThreads, bufferBytes);
  c.intra = shm.intra;
  c.reduceGBps = shm.reduceGBps;
  c.channelGBps = std::min(c.channelGBps, shm.channelGBps);
  if (sharedThreads > 0) timeSlice(c, static_cast<double>(nranks) / sharedThreads, false);
  return c;
}

std::vector<SimProtocol> simProtocols(const TopologyCosts& k, bool gpuRanks) {
  std::vector<SimProtocol> out;
  out.push_back({gpuRanks ? "Simple" : "copy", k.messageUs, 1.0, gpuRanks ? kSimpleSetupUs : 0, 0});
  if (gpuRanks) out.push_back({"LL", kLlStepUs, kLlBwFraction, 0, kLlMaxBytes});
  return out;
}

}  // namespace plexus::algo
