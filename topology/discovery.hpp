// Local discovery and the entry point the communicator uses at init: read PLEXUS_TOPO_FILE if
// set, else discover this machine from every source available at run time (hwloc, sysfs,
// libibverbs, NVML, network interfaces; each optional and reported when absent), then write
// PLEXUS_TOPO_DUMP_FILE if set.
#pragma once

#include <string>

#include "topology/graph.hpp"

namespace plexus::topo {

struct DiscoveryOptions {
  std::string sysfsRoot = "/sys";  // tests point this at a fake tree
  bool useHwloc = true;
  bool useIbverbs = true;
  bool useNvml = true;
  bool useNetInterfaces = true;
  // Ask CUDA for P2P access and atomics between the GPUs (cudaDeviceCanAccessPeer,
  // cudaDeviceGetP2PAttribute; topology/gpu_peers.hpp). Off by default: it initialises the CUDA
  // driver in this process. NVML's P2P status is always used when NVML is.
  bool useCudaPeers = false;
};

// Discovers this host. Never throws for a missing source; notes what was absent.
System discoverLocal(const DiscoveryOptions& options = {});

// PLEXUS_TOPO_FILE (NCCL XML or Plexus JSON) when set, else discoverLocal(); then writes
// PLEXUS_TOPO_DUMP_FILE when set. Throws Error for an unreadable or malformed file.
System loadLocalSystem();

// Reads NCCL XML or Plexus JSON (chosen by content). Throws Error naming the file.
System loadSystemFile(const std::string& path);
// Writes Plexus JSON when the name ends in .json, NCCL XML otherwise.
void saveSystemFile(const System& system, const std::string& path);

}  // namespace plexus::topo
