// What the discovery sources found on this host, before it becomes a graph. Each source fills
// its part (hwloc, sysfs, network interfaces, libibverbs, NVML) and says whether it ran;
// buildFromInventory() turns the whole into a System. Kept separate so tests can feed a fake
// sysfs tree or hand-made inventories.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "topology/discovery.hpp"
#include "topology/graph.hpp"

namespace plexus::topo {

struct CpuDomain {
  int numa = 0;
  int package = -1;
  std::vector<int> pus;  // OS indices of hardware threads
  int cores = 0;
  uint64_t memoryBytes = 0;
  std::string vendor;  // "GenuineIntel"
  std::string model;   // "Intel(R) Xeon(R) Platinum 8480C"
  int familyId = -1;
  int modelId = -1;
  std::string arch;
};

struct PciDevice {
  std::string busId;
  // Chain of PCI bridges from the root complex down to the device (root port first).
  std::vector<std::string> bridges;
  uint32_t classCode = 0;  // 24-bit
  uint16_t vendor = 0, device = 0, subVendor = 0, subDevice = 0;
  int linkGen = 0;
  int linkWidth = 0;
  int numa = -1;
};

struct NetInterfaceInfo {
  std::string name;
  bool up = false;
  double speedGbps = 0;  // 0 unknown
  std::vector<std::string> addresses;
  std::string busId;  // PCI function behind it, "" for virtual interfaces
  std::string mac;
  int type = 0;     // ARPHRD_* (1 Ethernet, 32 InfiniBand, 772 loopback)
  int devPort = 0;  // /sys/class/net/X/dev_port
  int mtu = 0;
};

struct RdmaPortInfo {
  std::string device;  // "mlx5_0"
  int port = 1;
  bool active = false;
  double rateGbps = 0;
  std::string linkLayer;  // "InfiniBand" / "Ethernet"
  std::string guid;       // node GUID
  std::string busId;
};

struct NvlinkInfo {
  int link = 0;
  std::string remoteBusId;
  int remoteType = 0;  // 0 GPU, 1 CPU (IBM NPU), 2 NVSwitch
};

// NVML's nvmlDeviceGetP2PStatus towards one other GPU (0 OK, another NVML status when not, -1 not
// asked).
struct GpuP2pStatus {
  std::string remoteBusId;
  int read = -1;
  int write = -1;
  int nvlink = -1;
  int atomics = -1;
};

struct GpuInfo {
  int index = 0;
  std::string busId;
  std::string name;
  std::string uuid;
  int sm = 0;
  std::vector<NvlinkInfo> nvlinks;
  std::string fabricDomain;       // "clusterUuid/cliqueId" when multi-node NVLink is set up
  std::vector<GpuP2pStatus> p2p;  // towards the other GPUs of the host
};

struct Inventory {
  std::string hostname;
  bool haveCpus = false;
  bool havePci = false;
  bool haveRdma = false;
  bool haveGpus = false;
  std::vector<CpuDomain> cpus;
  std::vector<PciDevice> pci;      // devices of interest (GPUs, NICs, NVSwitches) with their chains
  std::vector<PciDevice> bridges;  // every bridge named in a chain, with its own link
  std::vector<NetInterfaceInfo> netifs;
  std::vector<RdmaPortInfo> rdma;
  std::vector<GpuInfo> gpus;
  std::vector<std::string> sources;  // what ran: "hwloc 2.9.0", "sysfs", ...
  std::vector<std::string> absent;   // what did not, and why
};

// The sources. Each fills what it can and records itself in sources or absent; none throws.
void discoverHwloc(Inventory& inv);
void discoverSysfsCpus(Inventory& inv, const std::string& sysfsRoot);
void discoverSysfsPci(Inventory& inv, const std::string& sysfsRoot);
void refinePciFromSysfs(Inventory& inv, const std::string& sysfsRoot);
void discoverNetInterfaces(Inventory& inv, const std::string& sysfsRoot);
void discoverIbverbs(Inventory& inv, const std::string& sysfsRoot);
void discoverSysfsRdma(Inventory& inv, const std::string& sysfsRoot);
void discoverNvml(Inventory& inv);

// Helpers shared by the sources.
std::string readSysfsLine(const std::string& path);  // first line, trimmed; "" when unreadable
bool isInterestingPciClass(uint32_t classCode, uint16_t vendor);
// Canonical PCI bus ids found in a sysfs device path, outermost first.
std::vector<std::string> busIdsInPath(const std::string& path);

// Keeps the bridges that stand for PCIe switches: in a chain root port, switch upstream port,
// downstream port, upstream port, ... the upstream ports (even positions, 1-based). Root ports
// belong to the CPU and downstream ports to their switch.
std::vector<std::string> switchBridges(const std::vector<std::string>& chain);

// Builds the host's graph (host name, CPUs, PCIe switches, GPUs, NICs, NVSwitches).
System buildFromInventory(const Inventory& inv);

}  // namespace plexus::topo
