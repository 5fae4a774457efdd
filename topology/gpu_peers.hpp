// GPU peer-to-peer facts of one host and how they feed the graph. Two sources, both read at run
// time and both optional:
//   - NVML (dlopened by discover_nvml.cpp): nvmlDeviceGetP2PStatus per GPU pair (read, write,
//     NVLink, atomics) beside the NVLink remote ends that already became links;
//   - CUDA (when built with it): cudaDeviceCanAccessPeer and cudaDeviceGetP2PAttribute (access
//     supported, native atomics, performance rank), keyed by PCI bus id so that
//     CUDA_VISIBLE_DEVICES renumbering does not matter. Opt-in (DiscoveryOptions::useCudaPeers):
//     it initialises the CUDA driver in the calling process.
// applyGpuPeers() adds the NVLinks the graph lacks (NVML says NVLink P2P works but no NVLink path
// joins the pair), records the facts on the GPU nodes (props "p2p.<peer>") and returns, per GPU
// pair, the path class (NVL / NVB / PIX / PXB / PHB / SYS) and whether cuda-ipc may load and store
// through a mapped peer buffer (else the pair stages through host memory). Where CUDA said
// nothing, P2P is assumed up to PXB and over NVLink (NCCL's default P2P level), refused across a
// host bridge or the CPU interconnect. Ranks that share one GPU (LOC) always may: same device.
// Everything here is testable with injected facts; no GPU is needed.
#pragma once

#include <string>
#include <vector>

#include "topology/graph.hpp"
#include "topology/inventory.hpp"
#include "topology/paths.hpp"

namespace plexus::topo {

// What the sources say about one unordered GPU pair (-1: not known).
struct GpuPairFacts {
  std::string busA, busB;    // canonical PCI bus ids
  int access = -1;           // peer loads/stores supported (CUDA; else NVML read+write status)
  int atomics = -1;          // native atomics over the link
  int nvlink = -1;           // NVML: P2P over NVLink works
  int performanceRank = -1;  // CUDA: relative rank of the link (0 best)
  std::string source;        // "nvml", "cuda" or "nvml+cuda"
};

struct GpuPeerFacts {
  std::vector<GpuPairFacts> pairs;
  std::vector<std::string> notes;  // sources absent and why
  // The entry of a pair (either order), added when absent.
  GpuPairFacts& pair(const std::string& busA, const std::string& busB);
  const GpuPairFacts* find(const std::string& busA, const std::string& busB) const;
  // Merges one source's view of a pair: known values replace unknown ones; CUDA's access and
  // atomics replace NVML's (CUDA is what the transport will use).
  void merge(const GpuPairFacts& facts);
};

// NVML's P2P status collected into the inventory by discoverNvml().
GpuPeerFacts gpuPeerFactsFromInventory(const Inventory& inv);
// Adds CUDA's view (cudaDeviceCanAccessPeer, cudaDeviceGetP2PAttribute); without CUDA or a device
// adds a note saying why. Never throws.
void addCudaPeerFacts(GpuPeerFacts& facts);

struct GpuPeerLink {
  NodeId a = kNoNode, b = kNoNode;
  PathClass cls = PathClass::kDis;
  bool p2p = false;       // cuda-ipc may map and access the peer's buffers directly
  bool atomics = false;   // native atomics (flags in peer memory may use them)
  int nvlinks = 0;        // bottleneck NVLink count of the path, 0 when not NVLink
  bool fromCuda = false;  // p2p/atomics were said by CUDA (else derived from the class / NVML)
};

// Default P2P decision for a path class when no source said (see the header comment).
bool p2pByDefault(PathClass cls);

// Applies the facts to GPUs of host `host` (matched by bus id) and returns every GPU pair of that
// host, a < b by node id.
std::vector<GpuPeerLink> applyGpuPeers(System& system, int host, const GpuPeerFacts& facts);

}  // namespace plexus::topo
