// Local discovery: runs the sources (each optional), logs what was absent, and builds the
// host's graph from the inventory. Also the communicator's entry point loadLocalSystem().
#include "topology/discovery.hpp"

#include <algorithm>
#include <map>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/host_id.hpp"
#include "base/log.hpp"
#include "topology/gpu_peers.hpp"
#include "topology/inventory.hpp"
#include "topology/link_constants.hpp"

namespace plexus::topo {
namespace {

const char* vendorName(uint16_t id) {
  switch (id) {
    case 0x10de:
      return "NVIDIA";
    case 0x15b3:
      return "Mellanox";
    case 0x8086:
      return "Intel";
    case 0x1af4:
      return "virtio";
    case 0x14e4:
      return "Broadcom";
    case 0x1d0f:
      return "Amazon";
    case 0x1077:
      return "QLogic";
    case 0x1924:
      return "Solarflare";
    case 0x1022:
      return "AMD";
    case 0x1000:
      return "Broadcom/LSI";
    default:
      return "";
  }
}

std::string hex(uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, v);
  return buf;
}

void setPciProps(Node& n, const PciDevice& d) {
  if (d.vendor) n.props["pci.vendor"] = hex(d.vendor, 4);
  if (d.device) n.props["pci.device"] = hex(d.device, 4);
  if (d.subVendor) n.props["pci.subsystem_vendor"] = hex(d.subVendor, 4);
  if (d.subDevice) n.props["pci.subsystem_device"] = hex(d.subDevice, 4);
}

class Builder {
 public:
  explicit Builder(const Inventory& inv) : inv_(inv) {}

  System run() {
    const std::string host = inv_.hostname.empty() ? "localhost" : inv_.hostname;
    sys_.setName(host);
    std::string src = "discovered on " + host;
    if (!inv_.sources.empty()) {
      src += " (";
      for (size_t i = 0; i < inv_.sources.size(); ++i) src += (i ? ", " : "") + inv_.sources[i];
      src += ")";
    }
    sys_.setSource(src);
    sys_.addHost(host);
    for (const std::string& a : inv_.absent) sys_.addNote("absent: " + a);
    for (const PciDevice& b : inv_.bridges) bridgeInfo_[b.busId] = &b;
    cpus();
    gpus();
    nvswitches();
    nics();
    nvlinks();
    return std::move(sys_);
  }

 private:
  void cpus() {
    std::vector<CpuDomain> doms = inv_.cpus;
    std::sort(doms.begin(), doms.end(),
              [](const CpuDomain& a, const CpuDomain& b) { return a.numa < b.numa; });
    if (doms.empty()) doms.push_back(CpuDomain{});
    for (const CpuDomain& d : doms) {
      Node n;
      n.type = NodeType::kCpu;
      n.name = "CPU" + std::to_string(d.numa);
      n.host = 0;
      n.index = d.numa;
      n.numa = d.numa;
      n.package = d.package;
      n.cores = d.cores;
      n.threads = static_cast<int>(d.pus.size());
      n.cpuset = formatCpuList(d.pus);
      n.memoryBytes = d.memoryBytes;
      n.vendor = d.vendor;
      n.model = d.model;
      n.familyId = d.familyId;
      n.modelId = d.modelId;
      n.arch = d.arch;
      cpuByNuma_[d.numa] = sys_.addNode(std::move(n));
    }
    std::vector<NodeId> ids;
    for (const auto& [numa, id] : cpuByNuma_) ids.push_back(id);
    for (size_t i = 0; i < ids.size(); ++i)
      for (size_t j = i + 1; j < ids.size(); ++j) {
        const Node& a = sys_.node(ids[i]);
        sys_.addLink(makeCpuLink(ids[i], ids[j],
                                 cpuInterconnectModeled(a.vendor, a.familyId, a.modelId, a.arch)));
      }
  }

  NodeId cpuFor(int numa) {
    auto it = cpuByNuma_.find(numa);
    if (it != cpuByNuma_.end()) return it->second;
    return cpuByNuma_.begin()->second;  // unknown NUMA: the first domain
  }

  const PciDevice* pciDevice(const std::string& busId) const {
    for (const PciDevice& d : inv_.pci)
      if (d.busId == busId) return &d;
    return nullptr;
  }

  // Creates the switch nodes above a device and returns the node it hangs on.
  NodeId attachPoint(const PciDevice& d) {
    int numa = d.numa;
    if (numa < 0) {
      for (const std::string& b : d.bridges) {
        auto it = bridgeInfo_.find(b);
        if (it != bridgeInfo_.end() && it->second->numa >= 0) {
          numa = it->second->numa;
          break;
        }
      }
    }
    NodeId parent = cpuFor(numa);
    for (const std::string& b : switchBridges(d.bridges)) {
      auto found = pciNode_.find(b);
      if (found != pciNode_.end()) {
        parent = found->second;
        continue;
      }
      Node n;
      n.type = NodeType::kPci;
      n.host = 0;
      n.index = static_cast<int>(pciNode_.size());
      n.name = "PCI" + std::to_string(n.index);
      n.busId = b;
      n.numa = sys_.node(parent).numa;
      int gen = 0, width = 0;
      if (auto it = bridgeInfo_.find(b); it != bridgeInfo_.end()) {
        n.pciClass = it->second->classCode ? it->second->classCode : 0x060400;
        n.vendor = vendorName(it->second->vendor);
        setPciProps(n, *it->second);
        gen = it->second->linkGen;
        width = it->second->linkWidth;
      } else {
        n.pciClass = 0x060400;
      }
      const NodeId id = sys_.addNode(std::move(n));
      sys_.addLink(makePcie(parent, id, gen, width));
      pciNode_[b] = id;
      parent = id;
    }
    return parent;
  }

  void gpus() {
    if (inv_.haveGpus) {
      for (const GpuInfo& g : inv_.gpus) {
        Node n;
        n.type = NodeType::kGpu;
        n.host = 0;
        n.index = g.index;
        n.name = "GPU" + std::to_string(g.index);
        n.busId = g.busId;
        n.sm = g.sm;
        n.model = g.name;
        n.uuid = g.uuid;
        n.vendor = "NVIDIA";
        n.nvlinkDomain = g.fabricDomain;
        n.pciClass = 0x030200;
        const PciDevice* d = pciDevice(g.busId);
        NodeId parent = d ? attachPoint(*d) : cpuFor(-1);
        int gen = 0, width = 0;
        if (d) {
          n.pciClass = d->classCode;
          n.numa = sys_.node(parent).numa;
          setPciProps(n, *d);
          gen = d->linkGen;
          width = d->linkWidth;
        }
        n.numa = sys_.node(parent).numa;
        const NodeId id = sys_.addNode(std::move(n));
        sys_.addLink(makePcie(parent, id, gen, width));
        gpuByBus_[g.busId] = id;
      }
      return;
    }
    int index = 0;
    std::vector<const PciDevice*> devs;
    for (const PciDevice& d : inv_.pci) {
      const uint32_t base = d.classCode >> 16;
      if ((base == 0x03 || base == 0x12) && isInterestingPciClass(d.classCode, d.vendor))
        devs.push_back(&d);
    }
    std::sort(devs.begin(), devs.end(),
              [](const PciDevice* a, const PciDevice* b) { return a->busId < b->busId; });
    for (const PciDevice* d : devs) {
      const NodeId parent = attachPoint(*d);
      Node n;
      n.type = NodeType::kGpu;
      n.host = 0;
      n.index = index++;
      n.name = "GPU" + std::to_string(n.index);
      n.busId = d->busId;
      n.pciClass = d->classCode;
      n.vendor = vendorName(d->vendor);
      n.model = n.vendor + " GPU (device " + hex(d->device, 4) + ")";
      n.numa = sys_.node(parent).numa;
      setPciProps(n, *d);
      const NodeId id = sys_.addNode(std::move(n));
      sys_.addLink(makePcie(parent, id, d->linkGen, d->linkWidth));
      gpuByBus_[d->busId] = id;
    }
    if (!devs.empty()) sys_.addNote("GPUs seen on PCI only (no NVML): no NVLink information");
  }

  NodeId nvswitchNode(const std::string& busId) {
    if (auto it = nvsByBus_.find(busId); it != nvsByBus_.end()) return it->second;
    Node n;
    n.type = NodeType::kNvSwitch;
    n.host = 0;
    n.index = static_cast<int>(nvsByBus_.size());
    n.name = "NVS" + std::to_string(n.index);
    n.busId = busId;
    n.tier = 1;
    n.group = 0;
    n.vendor = "NVIDIA";
    n.pciClass = 0x068000;
    const NodeId id = sys_.addNode(std::move(n));
    nvsByBus_[busId] = id;
    return id;
  }

  void nvswitches() {
    for (const PciDevice& d : inv_.pci) {
      if ((d.classCode >> 8) != 0x0680 || d.vendor != 0x10de) continue;
      const NodeId parent = attachPoint(d);
      const NodeId id = nvswitchNode(d.busId);
      sys_.addLink(makePcie(parent, id, d.linkGen, d.linkWidth));
    }
  }

  void addNic(Node n, NodeId parent, int gen, int width) {
    n.type = NodeType::kNic;
    n.host = 0;
    n.index = nicCount_++;
    n.name = "NIC" + std::to_string(n.index);
    n.rail = n.index;
    n.numa = sys_.node(parent).numa;
    const NodeId id = sys_.addNode(std::move(n));
    sys_.addLink(makePcie(parent, id, gen, width));
  }

  static void applyNetif(Node& n, const NetInterfaceInfo& ni) {
    n.ifname = ni.name;
    if (n.speedGbps <= 0) n.speedGbps = ni.speedGbps;
    n.addresses = ni.addresses;
    if (n.linkLayer.empty())
      n.linkLayer = ni.type == 32 ? "InfiniBand" : ni.type == 1 ? "Ethernet" : "";
    if (n.guid.empty()) n.guid = ni.mac;
    if (ni.mtu > 0) n.props["mtu"] = std::to_string(ni.mtu);
  }

  void nics() {
    std::vector<const PciDevice*> devs;
    for (const PciDevice& d : inv_.pci)
      if ((d.classCode >> 16) == 0x02) devs.push_back(&d);
    std::sort(devs.begin(), devs.end(),
              [](const PciDevice* a, const PciDevice* b) { return a->busId < b->busId; });
    std::vector<uint8_t> rdmaUsed(inv_.rdma.size(), 0), netifUsed(inv_.netifs.size(), 0);
    for (const PciDevice* d : devs) {
      const NodeId parent = attachPoint(*d);
      Node base;
      base.busId = d->busId;
      base.pciClass = d->classCode;
      base.vendor = vendorName(d->vendor);
      setPciProps(base, *d);
      std::vector<size_t> ports, netifs;
      for (size_t i = 0; i < inv_.rdma.size(); ++i)
        if (inv_.rdma[i].busId == d->busId) ports.push_back(i);
      for (size_t i = 0; i < inv_.netifs.size(); ++i)
        if (inv_.netifs[i].busId == d->busId) netifs.push_back(i);
      if (!ports.empty()) {
        for (size_t pi : ports) {
          const RdmaPortInfo& p = inv_.rdma[pi];
          rdmaUsed[pi] = 1;
          Node n = base;
          n.rdmaDevice = p.device;
          n.port = p.port;
          n.speedGbps = p.rateGbps;
          n.up = p.active;
          n.linkLayer = p.linkLayer;
          n.guid = p.guid;
          for (size_t ni : netifs) {
            const NetInterfaceInfo& f = inv_.netifs[ni];
            if (netifs.size() == 1 || f.devPort == p.port - 1) {
              applyNetif(n, f);
              netifUsed[ni] = 1;
              break;
            }
          }
          addNic(std::move(n), parent, d->linkGen, d->linkWidth);
        }
      } else if (!netifs.empty()) {
        for (size_t ni : netifs) {
          Node n = base;
          applyNetif(n, inv_.netifs[ni]);
          n.up = inv_.netifs[ni].up;
          netifUsed[ni] = 1;
          addNic(std::move(n), parent, d->linkGen, d->linkWidth);
        }
      } else {
        Node n = base;
        n.up = false;
        n.props["driver"] = "none (no netdev or RDMA device)";
        addNic(std::move(n), parent, d->linkGen, d->linkWidth);
      }
    }
    // RDMA ports and interfaces without a PCI function here (soft RoCE, veth, bonds).
    for (size_t i = 0; i < inv_.rdma.size(); ++i) {
      if (rdmaUsed[i]) continue;
      const RdmaPortInfo& p = inv_.rdma[i];
      Node n;
      n.rdmaDevice = p.device;
      n.port = p.port;
      n.speedGbps = p.rateGbps;
      n.up = p.active;
      n.linkLayer = p.linkLayer;
      n.guid = p.guid;
      n.busId = p.busId;
      n.props["virtual"] = "1";
      addNic(std::move(n), cpuFor(-1), 0, 0);
    }
    for (size_t i = 0; i < inv_.netifs.size(); ++i) {
      if (netifUsed[i]) continue;
      const NetInterfaceInfo& f = inv_.netifs[i];
      Node n;
      applyNetif(n, f);
      n.up = f.up;
      n.props["virtual"] = "1";
      addNic(std::move(n), cpuFor(-1), 0, 0);
    }
  }

  void nvlinks() {
    for (const GpuInfo& g : inv_.gpus) {
      auto self = gpuByBus_.find(g.busId);
      if (self == gpuByBus_.end()) continue;
      const int gen = nvlinkGenForSm(g.sm);
      std::map<std::string, std::pair<int, int>> byRemote;  // bus -> (count, type)
      for (const NvlinkInfo& l : g.nvlinks) {
        auto& e = byRemote[l.remoteBusId];
        ++e.first;
        e.second = l.remoteType;
      }
      for (const auto& [bus, ct] : byRemote) {
        const auto [count, type] = ct;
        auto peer = gpuByBus_.find(bus);
        if (type == 1) {
          sys_.addLink(makeNvlink(self->second, cpuFor(sys_.node(self->second).numa), gen, count));
        } else if (peer != gpuByBus_.end() && type != 2) {
          if (peer->second > self->second)  // each GPU reports the pair; add it once
            sys_.addLink(makeNvlink(self->second, peer->second, gen, count));
        } else {
          sys_.addLink(makeNvlink(self->second, nvswitchNode(bus), gen, count));
        }
      }
    }
  }

  const Inventory& inv_;
  System sys_;
  std::map<int, NodeId> cpuByNuma_;
  std::map<std::string, const PciDevice*> bridgeInfo_;
  std::map<std::string, NodeId> pciNode_;
  std::map<std::string, NodeId> gpuByBus_;
  std::map<std::string, NodeId> nvsByBus_;
  int nicCount_ = 0;
};

}  // namespace

System buildFromInventory(const Inventory& inv) {
  Builder b(inv);
  System sys = b.run();
  GpuPeerFacts facts = gpuPeerFactsFromInventory(inv);
  if (!facts.pairs.empty() && !sys.hosts().empty()) applyGpuPeers(sys, 0, facts);
  return sys;
}

System discoverLocal(const DiscoveryOptions& opt) {
  Inventory inv;
  inv.hostname = hostName();
  const std::string& root = opt.sysfsRoot;
  if (opt.useHwloc)
    discoverHwloc(inv);
  else
    inv.absent.push_back("hwloc (disabled)");
  if (!inv.haveCpus) discoverSysfsCpus(inv, root);
  if (!inv.havePci) discoverSysfsPci(inv, root);
  refinePciFromSysfs(inv, root);
  if (opt.useNetInterfaces)
    discoverNetInterfaces(inv, root);
  else
    inv.absent.push_back("network interfaces (disabled)");
  if (opt.useIbverbs)
    discoverIbverbs(inv, root);
  else
    discoverSysfsRdma(inv, root);
  if (opt.useNvml)
    discoverNvml(inv);
  else
    inv.absent.push_back("NVML (disabled)");
  for (const std::string& a : inv.absent)
    PLEXUS_INFO(subsys::kGraph | subsys::kInit, "topology: source absent: %s", a.c_str());
  System sys = buildFromInventory(inv);
  if (opt.useCudaPeers && sys.countNodes(NodeType::kGpu) > 1) {
    GpuPeerFacts facts = gpuPeerFactsFromInventory(inv);
    addCudaPeerFacts(facts);
    for (const std::string& n : facts.notes) sys.addNote("absent: " + n);
    applyGpuPeers(sys, 0, facts);
  }
  PLEXUS_INFO(subsys::kGraph | subsys::kInit, "topology: %s: %zu CPU domains, %zu GPUs, %zu NICs",
              sys.source().c_str(), sys.countNodes(NodeType::kCpu), sys.countNodes(NodeType::kGpu),
              sys.countNodes(NodeType::kNic));
  return sys;
}

System loadLocalSystem() {
  System sys;
  if (auto file = envGet("TOPO_FILE")) {
    PLEXUS_INFO(subsys::kGraph | subsys::kInit,
                "topology: reading %s (PLEXUS_TOPO_FILE) instead of discovering", file->c_str());
    sys = loadSystemFile(*file);
  } else {
    sys = discoverLocal();
  }
  if (auto dump = envGet("TOPO_DUMP_FILE")) {
    try {
      saveSystemFile(sys, *dump);
      PLEXUS_INFO(subsys::kGraph | subsys::kInit, "topology: wrote %s (PLEXUS_TOPO_DUMP_FILE)",
                  dump->c_str());
    } catch (const Error& e) {
      PLEXUS_WARN(subsys::kGraph | subsys::kInit,
                  "topology: could not write PLEXUS_TOPO_DUMP_FILE: %s", e.what());
    }
  }
  return sys;
}

}  // namespace plexus::topo
