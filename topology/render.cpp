// Renderings: show tree, matrix with legend, single path; text and JSON.
#include "topology/render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "topology/describe.hpp"
#include "topology/tree.hpp"

namespace plexus::topo {
namespace {

using ojson = nlohmann::ordered_json;

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string localName(const System& sys, const Node& n) {
  if (n.host >= 0 && sys.hostCount() > 1) {
    const std::string& h = sys.hosts()[static_cast<size_t>(n.host)].name;
    if (n.name.rfind(h + "/", 0) == 0) return n.name.substr(h.size() + 1);
  }
  return n.name;
}

// ---- show ----------------------------------------------------------------------------------

void renderSubtree(const System& sys, const HostTree& tree, NodeId id, int depth,
                   std::string& out) {
  const Node& n = sys.node(id);
  out += std::string(static_cast<size_t>(depth) * 2, ' ') + localName(sys, n);
  const std::string facts = nodeFacts(n);
  if (!facts.empty()) out += "  " + facts;
  const int li = tree.parentLink[static_cast<size_t>(id)];
  if (li >= 0) out += "  [" + linkSummary(sys.link(li)) + "]";
  out += "\n";
  for (NodeId c : tree.children[static_cast<size_t>(id)])
    renderSubtree(sys, tree, c, depth + 1, out);
}

std::string nvlinkLine(const System& sys, NodeId gpu) {
  std::map<NodeId, int> byRemote;
  int total = 0, gen = 0;
  double bw = 0;
  for (int li : sys.linksOf(gpu)) {
    const Link& l = sys.link(li);
    if (l.type != LinkType::kNvLink) continue;
    byRemote[l.other(gpu)] += l.count;
    total += l.count;
    gen = l.gen;
    bw += l.bw;
  }
  if (total == 0) return {};
  std::string s = localName(sys, sys.node(gpu)) + ": NVLink" +
                  (gen > 0 ? std::to_string(gen) : std::string()) + " x" + std::to_string(total) +
                  " (" + formatBandwidth(bw) + ") to ";
  if (byRemote.size() <= 6) {
    bool first = true;
    for (const auto& [r, c] : byRemote) {
      s += (first ? "" : ", ") + localName(sys, sys.node(r)) + " x" + std::to_string(c);
      first = false;
    }
  } else {
    std::map<NodeType, int> kinds;
    for (const auto& [r, c] : byRemote) ++kinds[sys.node(r).type];
    bool first = true;
    for (const auto& [t, k] : kinds) {
      s += (first ? "" : ", ") + std::to_string(k) + " " +
           (t == NodeType::kNvSwitch ? "NVSwitch chips"
            : t == NodeType::kGpu    ? "GPUs"
                                     : "nodes");
      first = false;
    }
    s += " (" + localName(sys, sys.node(byRemote.begin()->first)) + ".." +
         localName(sys, sys.node(byRemote.rbegin()->first)) + ")";
  }
  return s;
}

void renderHost(const System& sys, const HostTree& tree, int host, std::string& out) {
  const auto cpus = sys.nodesOfType(NodeType::kCpu, host);
  std::set<int> packages;
  int cores = 0, threads = 0;
  for (NodeId c : cpus) {
    if (sys.node(c).package >= 0) packages.insert(sys.node(c).package);
    cores += sys.node(c).cores;
    threads += sys.node(c).threads;
  }
  // Counts a source does not give (NCCL XML has no core counts) are left out, not shown as 0.
  std::string cpuCounts;
  if (cores > 0) cpuCounts += std::to_string(cores) + " cores, ";
  if (threads > 0) cpuCounts += std::to_string(threads) + " threads, ";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "Host %s: %zu package(s), %zu NUMA node(s), %s%zu GPUs, %zu NICs\n",
                sys.hosts()[static_cast<size_t>(host)].name.c_str(),
                packages.empty() ? size_t{cpus.empty() ? 0u : 1u} : packages.size(), cpus.size(),
                cpuCounts.c_str(), sys.nodesOfType(NodeType::kGpu, host).size(),
                sys.nodesOfType(NodeType::kNic, host).size());
  out += buf;
  // CPUs grouped by package, then their PCI trees.
  std::map<int, std::vector<NodeId>> byPackage;
  for (NodeId c : tree.roots)
    if (sys.node(c).host == host) byPackage[sys.node(c).package].push_back(c);
  for (const auto& [pkg, list] : byPackage) {
    int depth = 1;
    if (pkg >= 0) {
      const Node& first = sys.node(list.front());
      out += "  Package " + std::to_string(pkg);
      if (!first.model.empty()) out += "  " + first.model;
      if (!first.vendor.empty()) out += " (" + first.vendor + ")";
      out += "\n";
      depth = 2;
    }
    for (NodeId c : list) renderSubtree(sys, tree, c, depth, out);
  }
  // Nodes of this host outside the trees (NVSwitch chips, unattached devices).
  std::vector<NodeId> loose;
  for (const Node& n : sys.nodes())
    if (n.host == host && n.type != NodeType::kCpu &&
        tree.parent[static_cast<size_t>(n.id)] == kNoNode)
      loose.push_back(n.id);
  if (!loose.empty()) {
    out += "  Other devices:\n";
    for (NodeId id : loose) {
      const Node& n = sys.node(id);
      out += "    " + localName(sys, n) + "  " + nodeFacts(n) + "\n";
    }
  }
  // Links that are not tree edges.
  std::vector<std::string> smp;
  for (const Link& l : sys.links()) {
    if (l.type != LinkType::kCpuInterconnect || sys.node(l.a).host != host) continue;
    smp.push_back(localName(sys, sys.node(l.a)) + " - " + localName(sys, sys.node(l.b)) + " " +
                  formatBandwidth(l.bw));
  }
  if (!smp.empty()) {
    out += "  CPU interconnect:";
    for (size_t i = 0; i < smp.size(); ++i) out += (i ? ", " : " ") + smp[i];
    out += "\n";
  }
  std::vector<std::string> nv;
  for (NodeId g : sys.nodesOfType(NodeType::kGpu, host)) {
    std::string line = nvlinkLine(sys, g);
    if (!line.empty()) nv.push_back(line);
  }
  if (!nv.empty()) {
    out += "  NVLink:\n";
    for (const std::string& l : nv) out += "    " + l + "\n";
  }
}

void renderFabric(const System& sys, std::string& out) {
  // NVSwitch chips outside hosts, grouped by (tier, group).
  std::map<std::pair<int, int>, std::vector<NodeId>> groups;
  for (NodeId id : sys.nodesOfType(NodeType::kNvSwitch))
    if (sys.node(id).host < 0) groups[{sys.node(id).tier, sys.node(id).group}].push_back(id);
  std::vector<NodeId> leaves, spines;
  for (NodeId id : sys.nodesOfType(NodeType::kNetSwitch))
    (sys.node(id).tier > 1 ? spines : leaves).push_back(id);
  if (groups.empty() && leaves.empty() && spines.empty()) return;
  out += "Fabric:\n";
  for (const auto& [key, chips] : groups) {
    std::set<NodeId> gpus;
    int links = 0;
    for (NodeId c : chips)
      for (int li : sys.linksOf(c)) {
        const Link& l = sys.link(li);
        if (l.type != LinkType::kNvLink) continue;
        links += l.count;
        if (sys.node(l.other(c)).type == NodeType::kGpu) gpus.insert(l.other(c));
      }
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "  NVSwitch tier %d group %d: %zu chips (%s..%s), %zu GPUs, %d "
                  "NVLinks\n",
                  key.first, key.second, chips.size(), sys.node(chips.front()).name.c_str(),
                  sys.node(chips.back()).name.c_str(), gpus.size(), links);
    out += buf;
  }
  if (!leaves.empty()) {
    std::set<int> rails;
    size_t nicLinks = 0;
    double speed = 0;
    for (NodeId leaf : leaves) {
      rails.insert(sys.node(leaf).rail);
      for (int li : sys.linksOf(leaf)) {
        const Link& l = sys.link(li);
        if (sys.node(l.other(leaf)).type == NodeType::kNic) {
          ++nicLinks;
          speed = std::max(speed, l.speedGbps);
        }
      }
    }
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "  Network: %zu rails, %zu leaf switches, %zu spine, %zu NIC "
                  "links (up to %s)\n",
                  rails.size(), leaves.size(), spines.size(), nicLinks, formatSpeed(speed).c_str());
    out += buf;
  }
}

}  // namespace

std::string renderShow(const System& sys, const ShowOptions& opt) {
  std::string out = "System " + sys.name();
  if (!sys.source().empty()) out += " (" + sys.source() + ")";
  char buf[200];
  std::snprintf(buf, sizeof buf, ": %d host(s), %zu GPUs, %zu NICs, %zu NVSwitch chips\n",
                sys.hostCount(), sys.countNodes(NodeType::kGpu), sys.countNodes(NodeType::kNic),
                sys.countNodes(NodeType::kNvSwitch));
  out += buf;
  const HostTree tree = buildHostTree(sys);
  if (opt.host >= 0) {
    if (opt.host < sys.hostCount())
      renderHost(sys, tree, opt.host, out);
    else
      out += "(no host " + std::to_string(opt.host) + ")\n";
  } else {
    const int shown = opt.allHosts ? sys.hostCount() : std::min(sys.hostCount(), 1);
    for (int h = 0; h < shown; ++h) renderHost(sys, tree, h, out);
    if (shown < sys.hostCount())
      out += "... and " + std::to_string(sys.hostCount() - shown) +
             " more host(s) (--all to list them, --host N for one)\n";
    renderFabric(sys, out);
  }
  if (!sys.notes().empty()) {
    out += "Notes:\n";
    for (const std::string& n : sys.notes()) out += "  " + n + "\n";
  }
  return out;
}

std::string matrixCell(const PairPath& p) {
  switch (p.cls) {
    case PathClass::kLoc:
      return "X";
    case PathClass::kNvl:
      return "NV" + std::to_string(p.nvlinks);
    case PathClass::kNvb:
      return "NVB" + std::to_string(p.nvlinks);
    default:
      return pathClassName(p.cls);
  }
}

std::vector<NodeId> matrixNodes(const System& sys, const MatrixOptions& opt) {
  std::vector<NodeId> out;
  for (NodeId id : matrixEndpoints(sys))
    if (opt.host < 0 || sys.node(id).host == opt.host) out.push_back(id);
  return out;
}

const char* matrixLegend(PathClass c) {
  switch (c) {
    case PathClass::kLoc:
      return "Self";
    case PathClass::kNvl:
      return "Path over a bonded set of # NVLinks (direct or through NVSwitch)";
    case PathClass::kNvb:
      return "Path over # NVLinks through an intermediate GPU";
    case PathClass::kC2C:
      return "Path over a chip-to-chip link (NVLink-C2C, CPU to GPU)";
    case PathClass::kPix:
      return "Path through at most one PCIe switch or bridge";
    case PathClass::kPxb:
      return "Path through several PCIe switches, without the host bridge";
    case PathClass::kPhb:
      return "Path through PCIe and a PCIe host bridge (the CPU)";
    case PathClass::kSys:
      return "Path through PCIe and the CPU interconnect between NUMA nodes (UPI, xGMI, ...)";
    case PathClass::kNet:
      return "Path through the network (NIC, switches, NIC)";
    case PathClass::kDis:
      return "No path";
  }
  return "?";
}

namespace {

struct MatrixLabels {
  std::vector<std::string> column;  // short
  std::vector<std::string> row;     // full
  std::vector<std::string> affinity;
  std::vector<std::string> numa;
  bool compact = false;
};

MatrixLabels labelsFor(const System& sys, const PathTable& t) {
  MatrixLabels L;
  std::set<int> hosts;
  for (NodeId id : t.endpoints()) hosts.insert(sys.node(id).host);
  L.compact = hosts.size() > 1;
  const HostTree tree = buildHostTree(sys);
  int g = 0, n = 0;
  for (NodeId id : t.endpoints()) {
    const Node& node = sys.node(id);
    std::string shortName = localName(sys, node);
    if (L.compact) {
      shortName =
          node.type == NodeType::kGpu ? "G" + std::to_string(g++) : "N" + std::to_string(n++);
    }
    L.column.push_back(shortName);
    L.row.push_back(L.compact ? node.name : shortName);
    const NodeId cpu = rootCpuOf(tree, sys, id);
    L.affinity.push_back(cpu != kNoNode && !sys.node(cpu).cpuset.empty() ? sys.node(cpu).cpuset
                                                                         : "N/A");
    L.numa.push_back(node.numa >= 0 ? std::to_string(node.numa) : "N/A");
  }
  return L;
}

}  // namespace

std::string renderMatrix(const System& sys, const PathTable& t) {
  const MatrixLabels L = labelsFor(sys, t);
  const size_t n = t.size();
  size_t cw = 5, rw = 5, aw = 14;
  for (size_t i = 0; i < n; ++i) {
    cw = std::max(cw, L.column[i].size() + 1);
    rw = std::max(rw, L.row[i].size() + 1);
    aw = std::max(aw, L.affinity[i].size() + 2);
  }
  std::set<PathClass> used;
  std::string out;
  out.reserve((n + 1) * (rw + n * cw + aw + 20));
  out += std::string(rw, ' ');
  for (size_t j = 0; j < n; ++j) out += pad(L.column[j], cw);
  out += pad("CPU Affinity", aw) + "NUMA Affinity\n";
  for (size_t i = 0; i < n; ++i) {
    out += pad(L.row[i], rw);
    for (size_t j = 0; j < n; ++j) {
      const PairPath& p = t.at(i, j);
      used.insert(p.cls);
      out += pad(matrixCell(p), cw);
    }
    out += pad(L.affinity[i], aw) + L.numa[i] + "\n";
  }
  out += "\nLegend:\n\n";
  out += "  X    = Self\n";
  struct Entry {
    PathClass cls;
    const char* tag;
  };
  const Entry entries[] = {
      {PathClass::kNet, "NET "}, {PathClass::kSys, "SYS "}, {PathClass::kPhb, "PHB "},
      {PathClass::kPxb, "PXB "}, {PathClass::kPix, "PIX "}, {PathClass::kC2C, "C2C "},
      {PathClass::kNvb, "NVB#"}, {PathClass::kNvl, "NV# "}, {PathClass::kDis, "DIS "}};
  for (const Entry& e : entries) {
    if ((e.cls == PathClass::kNet || e.cls == PathClass::kDis || e.cls == PathClass::kC2C ||
         e.cls == PathClass::kNvb) &&
        !used.count(e.cls))
      continue;
    out += std::string("  ") + e.tag + " = " + matrixLegend(e.cls) + "\n";
  }
  // NIC (and, on multi-host systems, GPU) legend.
  bool nicHeader = false;
  for (size_t i = 0; i < n; ++i) {
    const Node& node = sys.node(t.endpoints()[i]);
    if (node.type != NodeType::kNic && !L.compact) continue;
    if (!nicHeader) {
      out += L.compact ? "\nEndpoint Legend:\n\n" : "\nNIC Legend:\n\n";
      nicHeader = true;
    }
    std::string id = !node.rdmaDevice.empty() ? node.rdmaDevice : node.ifname;
    if (!node.rdmaDevice.empty() && !node.ifname.empty()) id += " (" + node.ifname + ")";
    if (id.empty()) id = node.busId.empty() ? "unnamed" : node.busId;
    if (node.type == NodeType::kGpu) id = node.busId.empty() ? node.model : node.busId;
    out += "  " + L.column[i] + ": " + (L.compact ? node.name + " " : std::string()) + id;
    if (node.type == NodeType::kNic) out += ", " + formatSpeed(node.speedGbps);
    out += "\n";
  }
  if (!sys.notes().empty()) {
    out += "\nNotes:\n";
    for (const std::string& note : sys.notes()) out += "  " + note + "\n";
  }
  return out;
}

std::string matrixJson(const System& sys, const PathTable& t) {
  const MatrixLabels L = labelsFor(sys, t);
  ojson j;
  j["system"] = sys.name();
  ojson ends = ojson::array();
  for (size_t i = 0; i < t.size(); ++i) {
    const Node& n = sys.node(t.endpoints()[i]);
    ojson e;
    e["name"] = n.name;
    e["label"] = L.column[i];
    e["type"] = nodeTypeName(n.type);
    e["host"] = n.host;
    e["cpu_affinity"] = L.affinity[i];
    e["numa"] = n.numa;
    ends.push_back(std::move(e));
  }
  j["endpoints"] = std::move(ends);
  ojson cells = ojson::array(), bws = ojson::array();
  for (size_t i = 0; i < t.size(); ++i) {
    ojson row = ojson::array(), brow = ojson::array();
    for (size_t k = 0; k < t.size(); ++k) {
      const PairPath& p = t.at(i, k);
      row.push_back(matrixCell(p));
      if (std::isinf(p.bw))
        brow.push_back(nullptr);
      else
        brow.push_back(std::round(p.bw * 10.0) / 10.0);
    }
    cells.push_back(std::move(row));
    bws.push_back(std::move(brow));
  }
  j["cells"] = std::move(cells);
  j["bw_gbps"] = std::move(bws);
  ojson legend;
  for (int c = 0; c <= static_cast<int>(PathClass::kDis); ++c)
    legend[pathClassName(static_cast<PathClass>(c))] = pathClassMeaning(static_cast<PathClass>(c));
  j["legend"] = std::move(legend);
  j["notes"] = sys.notes();
  return j.dump(1) + "\n";
}

std::string renderPath(const System& sys, const Path& p) {
  const Node& a = sys.node(p.from);
  const Node& b = sys.node(p.to);
  std::string out = a.name + " -> " + b.name + ": " + pathClassName(p.cls);
  if (!p.connected()) return out + " (no path)\n";
  char buf[160];
  std::snprintf(buf, sizeof buf, ", bottleneck %s, latency %.2f us, %zu link(s)",
                formatBandwidth(p.bw).c_str(), p.latencyUs, p.steps.size());
  out += buf;
  if (p.nvlinks > 0) out += ", " + std::to_string(p.nvlinks) + " NVLinks";
  out += std::string("\n  ") + pathClassMeaning(p.cls) + "\n";
  for (size_t i = 0; i < p.hops.size(); ++i) {
    const PathHop& h = p.hops[i];
    out += "  " + h.name;
    if (h.members > 1)
      out += " (" + std::to_string(h.members) + " chips acting as one switch)";
    else {
      const std::string facts = nodeFacts(sys.node(h.node));
      if (!facts.empty()) out += "  " + facts;
    }
    out += "\n";
    if (i < p.steps.size()) {
      const PathStep& s = p.steps[i];
      Link l;
      l.type = s.type;
      l.count = s.count;
      l.gen = s.gen;
      l.width = s.width;
      l.bw = s.bw;
      std::snprintf(buf, sizeof buf, ", %.2f us", s.latencyUs);
      out += "    |  " + linkSummary(l) + buf + "\n";
    }
  }
  return out;
}

std::string pathJson(const System& sys, const Path& p) {
  ojson j;
  j["from"] = sys.node(p.from).name;
  j["to"] = sys.node(p.to).name;
  j["class"] = pathClassName(p.cls);
  j["meaning"] = pathClassMeaning(p.cls);
  if (std::isinf(p.bw))
    j["bw_gbps"] = nullptr;
  else
    j["bw_gbps"] = p.bw;
  j["latency_us"] = p.latencyUs;
  j["nvlinks"] = p.nvlinks;
  ojson hops = ojson::array();
  for (const PathHop& h : p.hops)
    hops.push_back(ojson{{"name", h.name}, {"type", nodeTypeName(h.type)}, {"members", h.members}});
  j["hops"] = std::move(hops);
  ojson links = ojson::array();
  for (const PathStep& s : p.steps) {
    ojson l;
    l["type"] = linkTypeName(s.type);
    l["count"] = s.count;
    if (s.gen) l["gen"] = s.gen;
    if (s.width) l["width"] = s.width;
    l["bw_gbps"] = s.bw;
    l["latency_us"] = s.latencyUs;
    links.push_back(std::move(l));
  }
  j["links"] = std::move(links);
  return j.dump(1) + "\n";
}

}  // namespace plexus::topo
