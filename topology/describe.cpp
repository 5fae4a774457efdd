// Text descriptions of nodes, links and hosts.
#include "topology/describe.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "topology/link_constants.hpp"

namespace plexus::topo {

std::string formatBandwidth(double gbps) {
  if (std::isinf(gbps)) return "unbounded";
  char buf[32];
  if (std::fabs(gbps - std::round(gbps)) < 0.05)
    std::snprintf(buf, sizeof buf, "%.0f GB/s", gbps);
  else
    std::snprintf(buf, sizeof buf, "%.1f GB/s", gbps);
  return buf;
}

std::string formatSpeed(double gbps) {
  if (!(gbps > 0)) return "speed unknown";
  char buf[32];
  if (std::fabs(gbps - std::round(gbps)) < 0.005)
    std::snprintf(buf, sizeof buf, "%.0f Gb/s", gbps);
  else
    std::snprintf(buf, sizeof buf, "%.2f Gb/s", gbps);
  return buf;
}

std::string formatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (std::fabs(v - std::round(v)) < 0.05)
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string linkSummary(const Link& l) {
  std::string s;
  switch (l.type) {
    case LinkType::kNvLink:
      s = "NVLink" + (l.gen > 0 ? std::to_string(l.gen) : std::string()) + " x" +
          std::to_string(l.count);
      break;
    case LinkType::kC2C:
      s = "C2C" + (l.count > 1 ? " x" + std::to_string(l.count) : std::string());
      break;
    case LinkType::kPcie:
      s = "PCIe";
      s += l.gen > 0 ? " Gen" + std::to_string(l.gen) : std::string(" (speed unknown)");
      if (l.width > 0) s += " x" + std::to_string(l.width);
      break;
    case LinkType::kCpuInterconnect:
      s = "CPU interconnect";
      break;
    case LinkType::kNetwork:
      // Modelled links (synthetic systems) may carry a bandwidth but no nominal line rate.
      s = l.speedGbps > 0 ? formatSpeed(l.speedGbps) + " network" : std::string("network");
      if (l.count > 1) s += " x" + std::to_string(l.count);
      break;
  }
  return s + ", " + formatBandwidth(l.bw);
}

std::string nodeFacts(const Node& n) {
  std::string s;
  auto add = [&](const std::string& part) {
    if (part.empty()) return;
    if (!s.empty()) s += ", ";
    s += part;
  };
  switch (n.type) {
    case NodeType::kCpu:
      if (n.numa >= 0) add("NUMA " + std::to_string(n.numa));
      if (n.package >= 0) add("package " + std::to_string(n.package));
      add(n.model);
      if (n.cores > 0) add(std::to_string(n.cores) + " cores");
      if (n.threads > 0) add(std::to_string(n.threads) + " threads");
      if (!n.cpuset.empty()) add("cpus " + n.cpuset);
      if (n.memoryBytes > 0) add(formatBytes(n.memoryBytes));
      break;
    case NodeType::kPci: {
      const uint32_t base = n.pciClass >> 8;
      add(base == 0x0604 ? "PCIe switch/bridge" : base == 0 ? "PCI" : "PCI device");
      add(n.busId);
      break;
    }
    case NodeType::kGpu:
      add(n.model.empty() ? std::string("GPU") : n.model);
      if (n.sm > 0) add("sm" + std::to_string(n.sm));
      add(n.busId);
      if (!n.nvlinkDomain.empty()) add("NVLink domain " + n.nvlinkDomain);
      break;
    case NodeType::kNic: {
      std::string id = n.rdmaDevice;
      if (!n.rdmaDevice.empty() && n.port > 0) id += ":" + std::to_string(n.port);
      if (!n.ifname.empty()) id += id.empty() ? n.ifname : " (" + n.ifname + ")";
      add(id);
      add(formatSpeed(n.speedGbps));
      if (n.linkLayer == "InfiniBand")
        add("IB");
      else if (!n.linkLayer.empty())
        add(n.linkLayer);
      add(n.up ? "up" : "down");
      add(n.model);
      add(n.busId);
      if (n.rail >= 0) add("rail " + std::to_string(n.rail));
      for (const std::string& a : n.addresses) add(a);
      break;
    }
    case NodeType::kNvSwitch:
      add(n.tier > 1 ? "NVSwitch tier " + std::to_string(n.tier) : std::string("NVSwitch"));
      add(n.busId);
      break;
    case NodeType::kNetSwitch:
      add(n.tier > 1 ? "spine" : "leaf");
      if (n.rail >= 0) add("rail " + std::to_string(n.rail));
      add(n.model);
      break;
  }
  return s;
}

std::string describeLocal(const System& sys) {
  if (sys.hostCount() == 0) return "no host in topology " + sys.name() + "\n";
  const int host = 0;
  std::set<int> packages;
  std::set<std::string> models;
  int numa = 0, cores = 0, threads = 0;
  for (NodeId id : sys.nodesOfType(NodeType::kCpu, host)) {
    const Node& c = sys.node(id);
    ++numa;
    if (c.package >= 0) packages.insert(c.package);
    if (!c.model.empty()) models.insert(c.model);
    cores += c.cores;
    threads += c.threads;
  }
  std::string out = "host " + sys.hosts()[0].name + ": ";
  const size_t npkg = packages.empty() ? static_cast<size_t>(numa > 0) : packages.size();
  out += std::to_string(npkg) + (npkg == 1 ? " package" : " packages");
  if (!models.empty()) {
    out += " (";
    bool first = true;
    for (const std::string& m : models) {
      out += (first ? "" : ", ") + m;
      first = false;
    }
    out += ")";
  }
  out += ", " + std::to_string(numa) + (numa == 1 ? " NUMA node" : " NUMA nodes");
  if (cores > 0) out += ", " + std::to_string(cores) + " cores";
  if (threads > 0) out += " / " + std::to_string(threads) + " threads";
  out += "\n";
  const auto nics = sys.nodesOfType(NodeType::kNic, host);
  out += "  NICs: ";
  if (nics.empty()) out += "none";
  for (size_t i = 0; i < nics.size(); ++i) {
    const Node& n = sys.node(nics[i]);
    std::string id = !n.ifname.empty() ? n.ifname : n.rdmaDevice;
    if (!n.ifname.empty() && !n.rdmaDevice.empty()) id += "/" + n.rdmaDevice;
    out += (i ? "; " : "") + id + " " + formatSpeed(n.speedGbps) + (n.up ? " up" : " down");
    if (!n.addresses.empty()) out += " " + n.addresses.front();
  }
  out += "\n";
  const auto gpus = sys.nodesOfType(NodeType::kGpu, host);
  out += "  GPUs: ";
  if (gpus.empty()) out += "none";
  std::map<std::string, int> byModel;
  for (NodeId g : gpus) {
    const Node& n = sys.node(g);
    ++byModel[n.model.empty() ? std::string("GPU") : n.model];
  }
  bool first = true;
  for (const auto& [m, k] : byModel) {
    out += (first ? "" : ", ") + std::to_string(k) + " x " + m;
    first = false;
  }
  const size_t nvs = sys.countNodes(NodeType::kNvSwitch);
  if (!gpus.empty()) {
    size_t nvl = 0;
    for (NodeId g : gpus)
      for (int li : sys.linksOf(g))
        if (sys.link(li).type == LinkType::kNvLink) nvl += static_cast<size_t>(sys.link(li).count);
    if (nvl > 0)
      out += ", NVLink (" + std::to_string(nvl / gpus.size()) + " links per GPU" +
             (nvs > 0 ? ", " + std::to_string(nvs) + " NVSwitch chips" : std::string()) + ")";
  }
  out += "\n";
  return out;
}

}  // namespace plexus::topo
