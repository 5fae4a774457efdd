// A rank's compact, serializable summary of its host, as it travels in the bootstrap all-gather
// (tens of bytes for a CPU host): the host's shape, the device this rank uses and where it sits
// (NUMA node, PCIe switch, NVLink domain), the NIC chosen for it and its rail, and the host's
// NICs. The communicator gathers one per rank and builds a ClusterView (cluster_view.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "topology/graph.hpp"

namespace plexus::topo {

struct NicBrief {
  std::string name;  // netdev or RDMA device ("eth0", "mlx5_0")
  float speedGbps = 0;
  int32_t rail = -1;
  bool operator==(const NicBrief&) const = default;
};

struct HostSummary {
  // Host shape.
  uint32_t packages = 0;
  uint32_t numaNodes = 0;
  uint32_t cores = 0;
  uint32_t threads = 0;
  uint32_t gpuCount = 0;
  // This rank's GPU (-1: none; the rank works on host memory).
  int32_t gpuIndex = -1;
  std::string gpuBusId;
  int32_t sm = 0;
  // NUMA node of the rank's GPU, else of its NIC (-1 unknown).
  int32_t numa = -1;
  // NVLink domain of the GPU: 0 none; equal non-zero values are one domain. A host-local domain
  // (NVSwitch or direct NVLinks inside one machine) only joins ranks of the same host; a fabric
  // domain (multi-node NVLink: cluster uuid + clique) joins ranks of any host.
  uint64_t nvlinkDomain = 0;
  bool nvlinkFabric = false;
  // The PCIe switch above the GPU (0: none). Host-local: compare only within a host.
  uint64_t pciSwitch = 0;
  // The NIC this rank should use (closest to its GPU, spread over equals), -1 when none.
  int32_t nicIndex = -1;
  std::string nicName;
  float nicGbps = 0;
  int32_t rail = -1;
  // The host's NICs that are up (at most kMaxNics).
  std::vector<NicBrief> nics;

  static constexpr size_t kMaxNics = 32;

  std::string serialize() const;
  // Throws Error(kInvalidArgument) naming what is wrong when the bytes are not a summary.
  static HostSummary deserialize(std::string_view bytes);
  bool operator==(const HostSummary&) const = default;
};

// Summary of host 0 of `system` for the rank with this local rank (its GPU: localRank modulo the
// host's GPU count, in GPU index order; no GPU on a CPU-only host).
HostSummary summarizeLocal(const System& system, int localRank);
// Any host of a (synthetic, multi-host) system; gpuIndex overrides the GPU choice (-1: none).
HostSummary summarizeHost(const System& system, int host, int localRank,
                          std::optional<int> gpuIndex = std::nullopt);

}  // namespace plexus::topo
