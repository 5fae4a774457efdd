// Discovery from sysfs: CPUs and NUMA nodes (when hwloc is absent), the PCI tree (when hwloc is
// absent), PCI link speed/width/class/NUMA of every device (always), RDMA ports (when
// libibverbs is absent).
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "base/error.hpp"
#include "base/log.hpp"
#include "topology/inventory.hpp"
#include "topology/link_constants.hpp"

namespace plexus::topo {
namespace fs = std::filesystem;

std::string readSysfsLine(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ' || line.back() == '\r'))
    line.pop_back();
  return line;
}

namespace {

std::vector<std::string> listDir(const std::string& path) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path, ec)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

long long readInt(const std::string& path, long long fallback) {
  const std::string s = readSysfsLine(path);
  if (s.empty()) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 0);
  return end == s.c_str() ? fallback : v;
}

bool looksLikeBusId(const std::string& s) {
  const std::string c = canonicalBusId(s);
  return c.size() >= 12 && c[c.size() - 2] == '.' && c[c.size() - 5] == ':' &&
         c[c.size() - 8] == ':' && s.find(':') != std::string::npos &&
         s.find('.') != std::string::npos;
}

}  // namespace

bool isInterestingPciClass(uint32_t cls, uint16_t vendor) {
  const uint32_t base = cls >> 16;
  if (base == 0x02) return true;                                                // network
  if (base == 0x03 && (vendor == 0x10de || (cls >> 8) == 0x0302)) return true;  // NVIDIA / 3D
  if ((cls >> 8) == 0x0680 && vendor == 0x10de) return true;                    // NVSwitch
  if (base == 0x12 && vendor == 0x10de) return true;                            // accelerators
  return false;
}

std::vector<std::string> busIdsInPath(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    const std::string comp = path.substr(start, slash - start);
    if (comp.rfind("pci", 0) != 0 && looksLikeBusId(comp)) out.push_back(canonicalBusId(comp));
    start = slash + 1;
  }
  return out;
}

std::vector<std::string> switchBridges(const std::vector<std::string>& chain) {
  std::vector<std::string> kept;
  for (size_t i = 1; i < chain.size(); i += 2) kept.push_back(chain[i]);
  return kept;
}

namespace {

// NUMA nodes with CPUs, from root/devices/system/node; empty when there is no NUMA information.
std::map<int, CpuDomain> numaDomains(const std::string& root) {
  const std::string nodeDir = root + "/devices/system/node";
  std::map<int, CpuDomain> domains;
  for (const std::string& e : listDir(nodeDir)) {
    if (e.rfind("node", 0) != 0 || e.size() < 5 || !std::isdigit(static_cast<unsigned char>(e[4])))
      continue;
    CpuDomain d;
    d.numa = std::atoi(e.c_str() + 4);
    try {
      d.pus = parseCpuList(readSysfsLine(nodeDir + "/" + e + "/cpulist"));
    } catch (const Error&) {
      continue;
    }
    if (d.pus.empty()) continue;  // memory-only node
    std::ifstream mem(nodeDir + "/" + e + "/meminfo");
    for (std::string line; std::getline(mem, line);) {
      const size_t at = line.find("MemTotal:");
      if (at != std::string::npos)
        d.memoryBytes = std::strtoull(line.c_str() + at + 9, nullptr, 10) * 1024;
    }
    domains[d.numa] = d;
  }
  return domains;
}

// No NUMA information: one domain with every online CPU.
CpuDomain onlineCpusDomain(const std::string& root) {
  CpuDomain d;
  try {
    d.pus = parseCpuList(readSysfsLine(root + "/devices/system/cpu/online"));
  } catch (const Error&) {
  }
  if (d.pus.empty()) {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < std::max(1L, n); ++i) d.pus.push_back(static_cast<int>(i));
  }
  return d;
}

// Packages and cores of a domain from the CPU topology files.
void countCores(const std::string& root, CpuDomain& d) {
  std::set<std::pair<int, int>> cores;
  std::set<int> packages;
  for (int pu : d.pus) {
    const std::string t = root + "/devices/system/cpu/cpu" + std::to_string(pu) + "/topology/";
    const int pkg = static_cast<int>(readInt(t + "physical_package_id", 0));
    const int core = static_cast<int>(readInt(t + "core_id", pu));
    packages.insert(pkg);
    cores.insert({pkg, core});
  }
  d.cores = static_cast<int>(cores.size());
  d.package = packages.empty() ? -1 : *packages.begin();
}

struct CpuModel {
  std::string vendor, model;
  int family = -1, modelId = -1;
};

// The first processor's vendor and model in /proc/cpuinfo.
CpuModel readCpuInfo() {
  CpuModel m;
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    auto value = [&]() {
      const size_t c = line.find(':');
      std::string v = c == std::string::npos ? "" : line.substr(c + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      return v;
    };
    if (line.rfind("vendor_id", 0) == 0 && m.vendor.empty())
      m.vendor = value();
    else if (line.rfind("model name", 0) == 0 && m.model.empty())
      m.model = value();
    else if (line.rfind("cpu family", 0) == 0 && m.family < 0)
      m.family = std::atoi(value().c_str());
    else if (line.rfind("model", 0) == 0 && line.rfind("model name", 0) != 0 && m.modelId < 0)
      m.modelId = std::atoi(value().c_str());
  }
  return m;
}

}  // namespace

void discoverSysfsCpus(Inventory& inv, const std::string& root) {
  std::map<int, CpuDomain> domains = numaDomains(root);
  if (domains.empty()) domains[0] = onlineCpusDomain(root);
  for (auto& [numa, d] : domains) countCores(root, d);
  // The CPU model comes from /proc/cpuinfo: only meaningful for the real root.
  const CpuModel m = root == "/sys" ? readCpuInfo() : CpuModel{};
  for (auto& [numa, d] : domains) {
    d.vendor = m.vendor;
    d.model = m.model;
    d.familyId = m.family;
    d.modelId = m.modelId;
    inv.cpus.push_back(d);
  }
  inv.haveCpus = true;
  inv.sources.push_back("sysfs CPUs");
}

namespace {

PciDevice readPciAttributes(const std::string& dir, const std::string& busId) {
  PciDevice d;
  d.busId = busId;
  d.classCode = static_cast<uint32_t>(readInt(dir + "/class", 0));
  d.vendor = static_cast<uint16_t>(readInt(dir + "/vendor", 0));
  d.device = static_cast<uint16_t>(readInt(dir + "/device", 0));
  d.subVendor = static_cast<uint16_t>(readInt(dir + "/subsystem_vendor", 0));
  d.subDevice = static_cast<uint16_t>(readInt(dir + "/subsystem_device", 0));
  d.numa = static_cast<int>(readInt(dir + "/numa_node", -1));
  const std::string speed = readSysfsLine(dir + "/current_link_speed");
  if (!speed.empty()) d.linkGen = pcieGenFromGts(std::strtod(speed.c_str(), nullptr));
  d.linkWidth = static_cast<int>(readInt(dir + "/current_link_width", 0));
  if (d.linkWidth < 0 || d.linkWidth > 32) d.linkWidth = 0;
  return d;
}

}  // namespace

void discoverSysfsPci(Inventory& inv, const std::string& root) {
  const std::string devDir = root + "/bus/pci/devices";
  const auto entries = listDir(devDir);
  if (entries.empty()) {
    inv.absent.push_back("sysfs PCI (" + devDir + " is empty or missing)");
    return;
  }
  std::set<std::string> bridgesSeen;
  for (const std::string& e : entries) {
    const std::string link = devDir + "/" + e;
    const PciDevice probe = readPciAttributes(link, canonicalBusId(e));
    if (!isInterestingPciClass(probe.classCode, probe.vendor)) continue;
    std::error_code ec;
    const std::string real = fs::canonical(link, ec).string();
    if (ec) continue;
    std::vector<std::string> chain = busIdsInPath(real);
    if (!chain.empty() && chain.back() == probe.busId) chain.pop_back();
    PciDevice d = probe;
    d.bridges = chain;
    // Each bridge's attributes live in the directories above the device.
    std::string dir = real;
    for (size_t i = chain.size(); i-- > 0;) {
      dir = fs::path(dir).parent_path().string();
      if (bridgesSeen.insert(chain[i]).second)
        inv.bridges.push_back(readPciAttributes(dir, chain[i]));
    }
    inv.pci.push_back(d);
  }
  inv.havePci = true;
  inv.sources.push_back("sysfs PCI");
}

void refinePciFromSysfs(Inventory& inv, const std::string& root) {
  const std::string devDir = root + "/bus/pci/devices/";
  if (::access(devDir.c_str(), F_OK) != 0) {
    inv.absent.push_back("sysfs PCI link speeds (" + devDir + " missing)");
    return;
  }
  inv.sources.push_back("sysfs");
  auto refine = [&](PciDevice& d) {
    const std::string dir = devDir + d.busId;
    if (::access(dir.c_str(), F_OK) != 0) return;
    const PciDevice s = readPciAttributes(dir, d.busId);
    if (s.classCode) d.classCode = s.classCode;  // 24 bits (hwloc keeps 16)
    if (s.linkGen) d.linkGen = s.linkGen;
    if (s.linkWidth) d.linkWidth = s.linkWidth;
    if (s.numa >= 0) d.numa = s.numa;
  };
  for (PciDevice& d : inv.pci) refine(d);
  for (PciDevice& d : inv.bridges) refine(d);
}

void discoverSysfsRdma(Inventory& inv, const std::string& root) {
  const std::string ibDir = root + "/class/infiniband";
  const auto devices = listDir(ibDir);
  if (devices.empty()) {
    inv.absent.push_back("RDMA devices (none in " + ibDir + ")");
    return;
  }
  for (const std::string& dev : devices) {
    const std::string base = ibDir + "/" + dev;
    std::error_code ec;
    const std::string real = fs::canonical(base + "/device", ec).string();
    const auto ids = ec ? std::vector<std::string>{} : busIdsInPath(real);
    const std::string guid = readSysfsLine(base + "/node_guid");
    for (const std::string& p : listDir(base + "/ports")) {
      RdmaPortInfo port;
      port.device = dev;
      port.port = std::atoi(p.c_str());
      const std::string pdir = base + "/ports/" + p;
      const std::string state = readSysfsLine(pdir + "/state");  // "4: ACTIVE"
      port.active = state.find("ACTIVE") != std::string::npos;
      port.rateGbps = std::strtod(readSysfsLine(pdir + "/rate").c_str(), nullptr);
      port.linkLayer = readSysfsLine(pdir + "/link_layer");
      port.guid = guid;
      port.busId = ids.empty() ? std::string() : ids.back();
      inv.rdma.push_back(port);
    }
  }
  inv.haveRdma = true;
  inv.sources.push_back("sysfs RDMA");
}

}  // namespace plexus::topo
