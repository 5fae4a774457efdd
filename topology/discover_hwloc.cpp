// Discovery with hwloc (when the build found it): packages, cores, NUMA nodes with their CPUs
// and memory, and the PCI tree above every GPU, NIC and NVSwitch.
#include "base/log.hpp"
#include "topology/inventory.hpp"

#ifdef PLEXUS_HAVE_HWLOC
#include <hwloc.h>

#include <memory>
#endif

namespace plexus::topo {

#ifndef PLEXUS_HAVE_HWLOC

void discoverHwloc(Inventory& inv) {
  inv.absent.push_back("hwloc (Plexus was built without it)");
}

#else

namespace {

struct TopologyDeleter {
  void operator()(hwloc_topology* t) const { hwloc_topology_destroy(t); }
};
using TopologyPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

std::string busIdOf(const hwloc_obj_attr_u::hwloc_pcidev_attr_s& a) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", static_cast<unsigned>(a.domain),
                static_cast<unsigned>(a.bus), static_cast<unsigned>(a.dev),
                static_cast<unsigned>(a.func));
  return buf;
}

std::string info(hwloc_obj_t obj, const char* key) {
  const char* v = obj ? hwloc_obj_get_info_by_name(obj, key) : nullptr;
  return v ? v : "";
}

using NumaObjects = std::vector<std::pair<hwloc_obj_t, size_t> >;  // obj, index in inv.cpus

// A loaded topology (I/O devices kept), or null with the reason recorded in inv.absent.
TopologyPtr loadTopology(Inventory& inv) {
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) {
    inv.absent.push_back("hwloc (hwloc_topology_init failed)");
    return nullptr;
  }
  TopologyPtr topo(raw);
  hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_ALL);
#if HWLOC_API_VERSION >= 0x00020100
  // hwloc's Linux backend reads the PCI tree from sysfs; its libpciaccess plugin ("pci") adds
  // nothing on Linux and leaks memory (which fails every LeakSanitizer run that discovers).
  hwloc_topology_set_components(raw, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "pci");
#endif
  if (hwloc_topology_load(raw) != 0) {
    inv.absent.push_back("hwloc (hwloc_topology_load failed)");
    return nullptr;
  }
  return topo;
}

// A NUMA domain with its CPUs, cores, memory and the package (processor) it is part of.
CpuDomain cpuDomainOf(hwloc_topology_t raw, hwloc_obj_t numa, const std::string& arch) {
  CpuDomain d;
  d.numa = static_cast<int>(numa->os_index);
  d.memoryBytes = numa->attr ? numa->attr->numanode.local_memory : 0;
  int pu = -1;
  while ((pu = hwloc_bitmap_next(numa->cpuset, pu)) != -1) d.pus.push_back(pu);
  d.cores = hwloc_get_nbobjs_inside_cpuset_by_type(raw, numa->cpuset, HWLOC_OBJ_CORE);
  d.arch = arch;
  hwloc_obj_t pkg = nullptr;
  while ((pkg = hwloc_get_next_obj_by_type(raw, HWLOC_OBJ_PACKAGE, pkg)) != nullptr) {
    if (pkg->cpuset && hwloc_bitmap_intersects(pkg->cpuset, numa->cpuset)) break;
  }
  if (pkg) {
    d.package = static_cast<int>(pkg->os_index);
    d.vendor = info(pkg, "CPUVendor");
    d.model = info(pkg, "CPUModel");
    const std::string fam = info(pkg, "CPUFamilyNumber"), mod = info(pkg, "CPUModelNumber");
    if (!fam.empty()) d.familyId = std::atoi(fam.c_str());
    if (!mod.empty()) d.modelId = std::atoi(mod.c_str());
  }
  return d;
}

// NUMA domains that have CPUs.
NumaObjects discoverCpuDomains(hwloc_topology_t raw, Inventory& inv) {
  const std::string arch = info(hwloc_get_root_obj(raw), "Architecture");
  const int nnuma = hwloc_get_nbobjs_by_type(raw, HWLOC_OBJ_NUMANODE);
  NumaObjects numaObjs;
  for (int i = 0; i < nnuma; ++i) {
    hwloc_obj_t numa = hwloc_get_obj_by_type(raw, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    if (!numa || !numa->cpuset || hwloc_bitmap_iszero(numa->cpuset)) continue;
    numaObjs.emplace_back(numa, inv.cpus.size());
    inv.cpus.push_back(cpuDomainOf(raw, numa, arch));
  }
  if (!inv.cpus.empty()) inv.haveCpus = true;
  return numaObjs;
}

// The PCI bridges above `dev` up to the host bridge, top first into d.bridges; bridges not seen
// before are added to inv.bridges.
void addBridgeChain(hwloc_obj_t dev, PciDevice& d, std::vector<std::string>& bridgesSeen,
                    Inventory& inv) {
  for (hwloc_obj_t p = dev->parent; p && p->type == HWLOC_OBJ_BRIDGE; p = p->parent) {
    if (p->attr->bridge.upstream_type != HWLOC_OBJ_BRIDGE_PCI) break;  // host bridge
    const std::string b = busIdOf(p->attr->bridge.upstream.pci);
    d.bridges.insert(d.bridges.begin(), b);
    bool seen = false;
    for (const std::string& s : bridgesSeen) seen = seen || s == b;
    if (!seen) {
      bridgesSeen.push_back(b);
      PciDevice bd;
      bd.busId = b;
      bd.classCode = static_cast<uint32_t>(p->attr->bridge.upstream.pci.class_id) << 8;
      bd.vendor = p->attr->bridge.upstream.pci.vendor_id;
      bd.device = p->attr->bridge.upstream.pci.device_id;
      inv.bridges.push_back(bd);
    }
  }
}

// NUMA from the first non-I/O ancestor when it is one NUMA domain; -1 otherwise.
int numaOfDevice(hwloc_topology_t raw, hwloc_obj_t dev, const NumaObjects& numaObjs,
                 const Inventory& inv) {
  hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(raw, dev);
  if (!anc || !anc->cpuset) return -1;
  int match = -1, count = 0;
  for (const auto& [numa, idx] : numaObjs)
    if (hwloc_bitmap_intersects(numa->cpuset, anc->cpuset)) {
      match = inv.cpus[idx].numa;
      ++count;
    }
  return count == 1 ? match : -1;
}

// PCI devices of interest and their bridge chains.
void discoverPciDevices(hwloc_topology_t raw, const NumaObjects& numaObjs, Inventory& inv) {
  std::vector<std::string> bridgesSeen;
  for (hwloc_obj_t dev = hwloc_get_next_pcidev(raw, nullptr); dev;
       dev = hwloc_get_next_pcidev(raw, dev)) {
    const hwloc_obj_attr_u::hwloc_pcidev_attr_s& a = dev->attr->pcidev;
    const uint32_t cls = static_cast<uint32_t>(a.class_id) << 8;
    if (!isInterestingPciClass(cls, a.vendor_id)) continue;
    PciDevice d;
    d.busId = busIdOf(a);
    d.classCode = cls;
    d.vendor = a.vendor_id;
    d.device = a.device_id;
    d.subVendor = a.subvendor_id;
    d.subDevice = a.subdevice_id;
    addBridgeChain(dev, d, bridgesSeen, inv);
    if (const int numa = numaOfDevice(raw, dev, numaObjs, inv); numa != -1) d.numa = numa;
    inv.pci.push_back(d);
  }
  // When hwloc saw no device of interest, let the sysfs walk have a look too.
  inv.havePci = !inv.pci.empty();
}

}  // namespace

void discoverHwloc(Inventory& inv) {
  const TopologyPtr topo = loadTopology(inv);
  if (!topo) return;
  inv.sources.push_back("hwloc");
  const NumaObjects numaObjs = discoverCpuDomains(topo.get(), inv);
  discoverPciDevices(topo.get(), numaObjs, inv);
}

#endif

}  // namespace plexus::topo
