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
  // communicator (topology_costs.cpp): a step that waits for a peer waits for it to be scheduled
  // (a context switch per waiting rank ahead of it), and the cores' work is shared.
  const double over = hwThreads > 0 ? static_cast<double>(nranks) / hwThreads : 1;
  if (over > 1) {
    c.intra.latencyUs = std::max(c.intra.latencyUs, kCpuContextSwitchUs * over);
    c.intra.bwGBps /= over;
    c.reduceGBps /= over;
    c.messageUs *= over;
    c.channelUs *= over;
    if (transport == CpuTransport::kShm) c.inter = c.intra;
  }
  return c;
}

std::vector<SimProtocol> simProtocols(const TopologyCosts& k, bool gpuRanks) {
  std::vector<SimProtocol> out;
  out.push_back({gpuRanks ? "Simple" : "copy", k.messageUs, 1.0, gpuRanks ? kSimpleSetupUs : 0, 0});
  if (gpuRanks) out.push_back({"LL", kLlStepUs, kLlBwFraction, 0, kLlMaxBytes});
  return out;
}

}  // namespace plexus::algo
