// Synthetic systems: spec parsing, the per-unit builders (DGX A100, DGX H100, GB200 NVL72,
// NVL576, this host's CPUs) and their replication into clusters.
#include "topology/synthetic.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>

#include "base/error.hpp"
#include "topology/discovery.hpp"
#include "topology/link_constants.hpp"

namespace plexus::topo {
namespace {

const char* kHelp =
    "NAME[:OPTION[,OPTION...]] with NAME one of cpu, dgx-a100, dgx-h100, gb200-nvl72, nvl576 "
    "and OPTIONs xK (K copies on a rail-optimized fat tree), nic=GBPS (NIC line rate), "
    "oversub=R (leaf-to-spine oversubscription, >= 1), leaf=H (hosts per leaf and rail); "
    "e.g. dgx-h100:x4,nic=200,oversub=2";

// Where one unit (one copy of the named system) goes in the result.
struct Unit {
  System& sys;
  int firstHost;             // global index of the unit's first host
  int unitIndex;             // copy number
  bool hostPrefix;           // prefix node names with the host name
  std::string fabricPrefix;  // prefix for the unit's fabric nodes (NVSwitch trays), "" or "u1/"
  int groupBase;             // first free aggregation group id
};

std::string hostPrefix(const Unit& u, int host) {
  return u.hostPrefix ? u.sys.hosts()[static_cast<size_t>(host)].name + "/" : std::string();
}

NodeId addCpu(System& sys, int host, const std::string& prefix, int numa, int package, int cores,
              int threads, const std::string& cpuset, const char* vendor, int family, int model,
              const char* modelName, const char* arch, uint64_t mem) {
  Node n;
  n.type = NodeType::kCpu;
  n.name = prefix + "CPU" + std::to_string(numa);
  n.host = host;
  n.index = numa;
  n.numa = numa;
  n.package = package;
  n.cores = cores;
  n.threads = threads;
  n.cpuset = cpuset;
  n.vendor = vendor;
  n.familyId = family;
  n.modelId = model;
  n.model = modelName;
  n.arch = arch;
  n.memoryBytes = mem;
  return sys.addNode(std::move(n));
}

NodeId addPciSwitch(System& sys, int host, const std::string& prefix, int index,
                    const std::string& busId, int numa) {
  Node n;
  n.type = NodeType::kPci;
  n.name = prefix + "PCI" + std::to_string(index);
  n.host = host;
  n.index = index;
  n.busId = busId;
  n.pciClass = 0x060400;
  n.numa = numa;
  return sys.addNode(std::move(n));
}

NodeId addGpu(System& sys, int host, const std::string& prefix, int index, const std::string& busId,
              int numa, int sm, const char* model) {
  Node n;
  n.type = NodeType::kGpu;
  n.name = prefix + "GPU" + std::to_string(index);
  n.host = host;
  n.index = index;
  n.busId = busId;
  n.pciClass = 0x030200;
  n.numa = numa;
  n.sm = sm;
  n.vendor = "NVIDIA";
  n.model = model;
  return sys.addNode(std::move(n));
}

NodeId addNic(System& sys, int host, const std::string& prefix, int index, const std::string& busId,
              int numa, double gbps, const char* model) {
  Node n;
  n.type = NodeType::kNic;
  n.name = prefix + "NIC" + std::to_string(index);
  n.host = host;
  n.index = index;
  n.busId = busId;
  n.pciClass = 0x020700;
  n.numa = numa;
  n.rdmaDevice = "mlx5_" + std::to_string(index);
  n.port = 1;
  n.speedGbps = gbps;
  n.linkLayer = "InfiniBand";
  n.vendor = "Mellanox";
  n.model = model;
  n.rail = index;
  return sys.addNode(std::move(n));
}

NodeId addNvSwitch(System& sys, int host, const std::string& name, int index, int tier, int group,
                   const std::string& busId) {
  Node n;
  n.type = NodeType::kNvSwitch;
  n.name = name;
  n.host = host;
  n.index = index;
  n.tier = tier;
  n.group = group;
  n.busId = busId;
  n.vendor = "NVIDIA";
  n.pciClass = 0x068000;
  return sys.addNode(std::move(n));
}

std::string bus(int domain, int busNo) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x:%02x:00.0", domain, busNo);
  return buf;
}

// DGX H100: 2 x Xeon 8480C (Sapphire Rapids, 56 cores), 8 H100 SXM5, 4 NVSwitch chips with the
// GPUs' 18 NVLink4 links spread 5/4/4/5, 8 x 400G ConnectX-7, each NIC on a PCIe Gen5 switch
// shared with one GPU (REFERENCE "Systems").
void buildDgxH100(Unit& u, int host) {
  System& s = u.sys;
  const std::string p = hostPrefix(u, host);
  const NodeId cpu0 = addCpu(s, host, p, 0, 0, 56, 112, "0-55,112-167", "GenuineIntel", 6, 0x8F,
                             "Intel Xeon Platinum 8480C", "x86_64", 1ull << 40);
  const NodeId cpu1 = addCpu(s, host, p, 1, 1, 56, 112, "56-111,168-223", "GenuineIntel", 6, 0x8F,
                             "Intel Xeon Platinum 8480C", "x86_64", 1ull << 40);
  s.addLink(makeCpuLink(cpu0, cpu1, cpuInterconnectModeled("GenuineIntel", 6, 0x8F, "x86_64")));
  const int gpuBus[8] = {0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb};
  std::vector<NodeId> gpus;
  for (int i = 0; i < 8; ++i) {
    const int numa = i / 4;
    const NodeId cpu = numa == 0 ? cpu0 : cpu1;
    const NodeId sw = addPciSwitch(s, host, p, i, bus(0, gpuBus[i] - 2), numa);
    s.addLink(makePcie(cpu, sw, 5, 16));
    const NodeId gpu = addGpu(s, host, p, i, bus(0, gpuBus[i]), numa, 90, "H100 80GB HBM3");
    s.addLink(makePcie(sw, gpu, 5, 16));
    const NodeId nic = addNic(s, host, p, i, bus(0, gpuBus[i] - 1), numa, 400, "ConnectX-7");
    s.addLink(makePcie(sw, nic, 5, 16));
    gpus.push_back(gpu);
  }
  const int group = u.groupBase++;
  const int spread[4] = {5, 4, 4, 5};
  for (int k = 0; k < 4; ++k) {
    // HGX H100 NVSwitch chips are not PCI devices of the host: no bus id.
    const NodeId nvs = addNvSwitch(s, host, p + "NVS" + std::to_string(k), k, 1, group, "");
    for (NodeId g : gpus) s.addLink(makeNvlink(g, nvs, 4, spread[k]));
  }
}

// DGX A100: 2 x EPYC 7742 (64 cores; modelled as one NUMA domain per socket), 8 A100 SXM4, 6
// NVSwitch chips with 2 NVLink3 links from every GPU to each (NV12), 8 x 200G HDR NICs; each
// socket has two PCIe Gen4 switch trees, each with two leaf switches holding one GPU and one
// NIC (so a GPU's own NIC is PIX and its neighbour's NIC PXB).
void buildDgxA100(Unit& u, int host) {
  System& s = u.sys;
  const std::string p = hostPrefix(u, host);
  const NodeId cpu0 = addCpu(s, host, p, 0, 0, 64, 128, "0-63,128-191", "AuthenticAMD", 23, 49,
                             "AMD EPYC 7742", "x86_64", 512ull << 30);
  const NodeId cpu1 = addCpu(s, host, p, 1, 1, 64, 128, "64-127,192-255", "AuthenticAMD", 23, 49,
                             "AMD EPYC 7742", "x86_64", 512ull << 30);
  s.addLink(makeCpuLink(cpu0, cpu1, cpuInterconnectModeled("AuthenticAMD", 23, 49, "x86_64")));
  const int groupBus[4] = {0x0f, 0x47, 0x87, 0xb7};
  std::vector<NodeId> gpus;
  int sw = 0;
  for (int g = 0; g < 4; ++g) {
    const int numa = g / 2;
    const NodeId cpu = numa == 0 ? cpu0 : cpu1;
    const NodeId upper = addPciSwitch(s, host, p, sw++, bus(0, groupBus[g]), numa);
    s.addLink(makePcie(cpu, upper, 4, 16));
    for (int k = 0; k < 2; ++k) {
      const int i = g * 2 + k;
      const int b = groupBus[g] + 1 + k * 0x10;
      const NodeId lower = addPciSwitch(s, host, p, sw++, bus(0, b), numa);
      s.addLink(makePcie(upper, lower, 4, 16));
      const NodeId gpu = addGpu(s, host, p, i, bus(0, b + 2), numa, 80, "A100-SXM4-80GB");
      s.addLink(makePcie(lower, gpu, 4, 16));
      const NodeId nic = addNic(s, host, p, i, bus(0, b + 1), numa, 200, "ConnectX-6");
      s.addLink(makePcie(lower, nic, 4, 16));
      gpus.push_back(gpu);
    }
  }
  const int group = u.groupBase++;
  for (int k = 0; k < 6; ++k) {
    const NodeId nvs =
        addNvSwitch(s, host, p + "NVS" + std::to_string(k), k, 1, group, bus(0, 0xc1 + k));
    for (NodeId gpu : gpus) s.addLink(makeNvlink(gpu, nvs, 3, 2));
  }
}

// One GB200 compute tray: 2 Grace CPUs (72 Arm cores each) joined by their CPU interconnect
// (figure estimated), 4 B200 GPUs (2 per Grace over NVLink-C2C), 4 x 400G ConnectX-7 on PCIe
// Gen5 root ports of the Graces. Returns the GPUs.
std::vector<NodeId> buildGb200Tray(Unit& u, int host, const std::string& domain) {
  System& s = u.sys;
  const std::string p = hostPrefix(u, host);
  std::vector<NodeId> gpus;
  NodeId cpus[2];
  for (int c = 0; c < 2; ++c) {
    const std::string set = c == 0 ? "0-71" : "72-143";
    cpus[c] = addCpu(s, host, p, c, c, 72, 72, set, "NVIDIA", -1, -1, "NVIDIA Grace", "arm64",
                     480ull << 30);
  }
  s.addLink(makeCpuLink(cpus[0], cpus[1], cpuInterconnectModeled("NVIDIA", -1, -1, "arm64")));
  const int gpuDomain[4] = {0x0008, 0x0009, 0x0018, 0x0019};
  const int nicDomain[4] = {0x0000, 0x0002, 0x0010, 0x0012};
  for (int i = 0; i < 4; ++i) {
    const int c = i / 2;
    const NodeId gpu = addGpu(s, host, p, i, bus(gpuDomain[i], 0x01), c, 100, "B200");
    s.mutableNode(gpu).nvlinkDomain = domain;
    s.addLink(makeC2C(cpus[c], gpu));
    const NodeId nic = addNic(s, host, p, i, bus(nicDomain[i], 0x03), c, 400, "ConnectX-7");
    s.addLink(makePcie(cpus[c], nic, 5, 16));
    gpus.push_back(gpu);
  }
  return gpus;
}

// GB200 NVL72: 18 compute trays (hosts), 9 switch trays x 2 NVSwitch chips; every GPU has one
// NVLink5 link to each of the 18 chips (18 links, 900 GB/s nominal).
void buildNvl72(Unit& u, int firstHost, const std::string& fabricPrefix, int group,
                const std::string& domain, std::vector<NodeId>* chipsOut) {
  std::vector<NodeId> gpus;
  for (int t = 0; t < 18; ++t)
    for (NodeId g : buildGb200Tray(u, firstHost + t, domain)) gpus.push_back(g);
  std::vector<NodeId> chips;
  for (int k = 0; k < 18; ++k) {
    const NodeId nvs =
        addNvSwitch(u.sys, -1, fabricPrefix + "NVS" + std::to_string(k), k, 1, group, "");
    u.sys.mutableNode(nvs).props["tray"] = std::to_string(k / 2);
    for (NodeId g : gpus) u.sys.addLink(makeNvlink(g, nvs, 5, 1));
    chips.push_back(nvs);
  }
  if (chipsOut) *chipsOut = chips;
}

void buildGb200Nvl72(Unit& u) {
  const std::string domain = "nvl72-" + std::to_string(u.unitIndex);
  buildNvl72(u, u.firstHost, u.fabricPrefix, u.groupBase++, domain, nullptr);
}

// NVL576: no public description of the tier structure exists (REFERENCE "Systems"), so it is
// modelled as 8 NVL72-like groups (tier-1 chips as in NVL72) joined by a second switch tier:
// 18 switch planes, plane k joining chip k of every group with 72 NVLink5 links (non-blocking).
void buildNvl576(Unit& u) {
  const std::string domain = "nvl576-" + std::to_string(u.unitIndex);
  std::vector<std::vector<NodeId>> groupChips;
  for (int g = 0; g < 8; ++g) {
    std::vector<NodeId> chips;
    buildNvl72(u, u.firstHost + g * 18, u.fabricPrefix + "g" + std::to_string(g) + "/",
               u.groupBase++, domain, &chips);
    groupChips.push_back(chips);
  }
  const int tier2 = u.groupBase++;
  for (int k = 0; k < 18; ++k) {
    const NodeId plane =
        addNvSwitch(u.sys, -1, u.fabricPrefix + "L2/NVS" + std::to_string(k), k, 2, tier2, "");
    u.sys.mutableNode(plane).props["model"] = "tier-2 switch plane (modelled)";
    for (int g = 0; g < 8; ++g) u.sys.addLink(makeNvlink(groupChips[g][k], plane, 5, 72));
  }
}

// This host's CPUs and NICs, copied from discovery (GPUs and NVSwitches left out).
void copyLocalHost(Unit& u, int host, const System& local) {
  System& s = u.sys;
  const std::string p = hostPrefix(u, host);
  std::vector<NodeId> map(local.nodeCount(), kNoNode);
  for (const Node& n : local.nodes()) {
    if (n.host != 0 || n.type == NodeType::kGpu || n.type == NodeType::kNvSwitch) continue;
    Node c = n;
    c.host = host;
    c.name = p + n.name;
    map[n.id] = s.addNode(std::move(c));
  }
  for (const Link& l : local.links()) {
    if (map[l.a] == kNoNode || map[l.b] == kNoNode) continue;
    Link c = l;
    c.a = map[l.a];
    c.b = map[l.b];
    s.addLink(c);
  }
}

struct BaseInfo {
  const char* name;
  const char* description;
  int hostsPerUnit;
};

const BaseInfo kBases[] = {
    {"cpu", "this host's CPUs, NUMA nodes and NICs (discovered; GPUs left out)", 1},
    {"dgx-a100", "8 x A100, 6 NVSwitch chips (NV12), 8 x 200G HDR, 2 x AMD EPYC", 1},
    {"dgx-h100", "8 x H100, 4 NVSwitch chips (NV18), 8 x 400G NDR, 2 x Intel SPR", 1},
    {"gb200-nvl72", "72 x B200 in one NVLink domain (18 NVSwitch chips), 18 trays, 400G per GPU",
     18},
    {"nvl576", "576 GPUs in one NVLink domain: 8 NVL72-like groups + a second switch tier (model)",
     144},
};

const BaseInfo* findBase(std::string_view name) {
  for (const BaseInfo& b : kBases)
    if (name == b.name) return &b;
  return nullptr;
}

[[noreturn]] void badSpec(std::string_view text, const std::string& why) {
  throwError(ErrorCode::kInvalidArgument, "system '%.*s': %s. Syntax: %s",
             static_cast<int>(text.size()), text.data(), why.c_str(), kHelp);
}

double parseNumber(std::string_view text, std::string_view whole, const char* what) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v))
    badSpec(whole, std::string(what) + " '" + std::string(text) + "' is not a number");
  return v;
}

}  // namespace

const char* syntheticSpecHelp() {
  return kHelp;
}

const std::vector<SyntheticInfo>& syntheticSystems() {
  static const std::vector<SyntheticInfo> infos = [] {
    std::vector<SyntheticInfo> v;
    for (const BaseInfo& b : kBases) v.push_back({b.name, b.description});
    return v;
  }();
  return infos;
}

SyntheticSpec parseSyntheticSpec(std::string_view text) {
  SyntheticSpec spec;
  const size_t colon = text.find(':');
  spec.base = std::string(text.substr(0, colon));
  if (!findBase(spec.base)) badSpec(text, "unknown system '" + spec.base + "'");
  if (colon == std::string_view::npos) return spec;
  std::string_view rest = text.substr(colon + 1);
  if (rest.empty()) badSpec(text, "nothing after ':'");
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view opt = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (opt.empty()) badSpec(text, "empty option");
    if (opt[0] == 'x') {
      const double k = parseNumber(opt.substr(1), text, "copy count");
      if (k < 1 || k != std::floor(k) || k > 100000)
        badSpec(text, "copy count must be a whole number from 1 to 100000");
      spec.copies = static_cast<int>(k);
    } else if (opt.substr(0, 4) == "nic=") {
      spec.nicGbps = parseNumber(opt.substr(4), text, "NIC speed");
      if (!(spec.nicGbps > 0)) badSpec(text, "NIC speed must be positive (Gb/s)");
    } else if (opt.substr(0, 8) == "oversub=") {
      spec.oversub = parseNumber(opt.substr(8), text, "oversubscription");
      if (!(spec.oversub >= 1)) badSpec(text, "oversubscription must be >= 1");
    } else if (opt.substr(0, 5) == "leaf=") {
      const double h = parseNumber(opt.substr(5), text, "hosts per leaf");
      if (h < 1 || h != std::floor(h) || h > 100000)
        badSpec(text, "hosts per leaf must be a whole number >= 1");
      spec.leafHosts = static_cast<int>(h);
    } else {
      badSpec(text, "unknown option '" + std::string(opt) + "'");
    }
  }
  return spec;
}

System makeSyntheticSystem(std::string_view text) {
  return makeSyntheticSystem(parseSyntheticSpec(text));
}

System makeSyntheticSystem(const SyntheticSpec& spec) {
  const BaseInfo* base = findBase(spec.base);
  if (!base) badSpec(spec.base, "unknown system");
  std::string fullName = spec.base;
  if (spec.copies > 1) fullName += ":x" + std::to_string(spec.copies);
  System sys(fullName);
  sys.setSource("synthetic");

  System local;
  if (spec.base == "cpu") {
    local = discoverLocal();
    if (local.hostCount() != 1)
      throwError(ErrorCode::kInternal, "local discovery returned %d hosts", local.hostCount());
  }

  const int hostsPerUnit = base->hostsPerUnit;
  const int totalHosts = hostsPerUnit * spec.copies;
  if (totalHosts == 1) {
    sys.addHost(spec.base == "cpu" ? local.hosts()[0].name : spec.base);
  } else {
    const int digits = std::max(2, static_cast<int>(std::to_string(totalHosts - 1).size()));
    for (int h = 0; h < totalHosts; ++h) {
      std::string num = std::to_string(h);
      if (static_cast<int>(num.size()) < digits)
        num.insert(0, static_cast<size_t>(digits) - num.size(), '0');
      sys.addHost("node" + num);
    }
  }
  int groupBase = 0;
  for (int c = 0; c < spec.copies; ++c) {
    Unit u{sys,
           c * hostsPerUnit,
           c,
           totalHosts > 1,
           spec.copies > 1 ? "u" + std::to_string(c) + "/" : std::string(),
           groupBase};
    if (spec.base == "cpu") {
      copyLocalHost(u, u.firstHost, local);
    } else if (spec.base == "dgx-h100") {
      buildDgxH100(u, u.firstHost);
    } else if (spec.base == "dgx-a100") {
      buildDgxA100(u, u.firstHost);
    } else if (spec.base == "gb200-nvl72") {
      buildGb200Nvl72(u);
    } else if (spec.base == "nvl576") {
      buildNvl576(u);
    }
    groupBase = u.groupBase;
  }
  if (spec.base == "nvl576")
    sys.addNote(
        "nvl576 is a model: 8 NVL72-like groups joined by a second NVSwitch tier "
        "(18 planes, non-blocking); no public description of the real tiers exists");
  if (spec.base == "cpu")
    for (const std::string& note : local.notes()) sys.addNote(note);
  if (spec.nicGbps > 0) {
    for (NodeId n : sys.nodesOfType(NodeType::kNic)) sys.mutableNode(n).speedGbps = spec.nicGbps;
  }
  if (totalHosts > 1) addRailFabric(sys, spec.oversub, spec.leafHosts);
  return sys;
}

void addRailFabric(System& sys, double oversub, int leafHosts) {
  if (leafHosts < 1) leafHosts = 1;
  if (oversub < 1) oversub = 1;
  const int hosts = sys.hostCount();
  // NICs per host in order; rail = position unless the NIC names its rail.
  std::vector<std::vector<NodeId>> nicsOf(static_cast<size_t>(hosts));
  for (NodeId n : sys.nodesOfType(NodeType::kNic)) {
    const Node& nic = sys.node(n);
    if (nic.host >= 0) nicsOf[static_cast<size_t>(nic.host)].push_back(n);
  }
  int rails = 0;
  for (auto& v : nicsOf) {
    for (size_t i = 0; i < v.size(); ++i) {
      Node& nic = sys.mutableNode(v[i]);
      if (nic.rail < 0) nic.rail = static_cast<int>(i);
      rails = std::max(rails, nic.rail + 1);
    }
  }
  if (rails == 0) return;
  const int leavesPerRail = (hosts + leafHosts - 1) / leafHosts;
  const bool needSpine = rails * leavesPerRail > 1;
  NodeId spine = kNoNode;
  if (needSpine) {
    Node n;
    n.type = NodeType::kNetSwitch;
    n.name = "spine";
    n.tier = 2;
    n.model = "spine layer (modelled as one switch)";
    spine = sys.addNode(std::move(n));
  }
  int leafIndex = 0;
  for (int r = 0; r < rails; ++r) {
    for (int l = 0; l < leavesPerRail; ++l) {
      Node n;
      n.type = NodeType::kNetSwitch;
      n.name = "leaf.r" + std::to_string(r) + "." + std::to_string(l);
      n.tier = 1;
      n.index = leafIndex++;
      n.rail = r;
      const NodeId leaf = sys.addNode(std::move(n));
      double downGbps = 0;
      int downlinks = 0;
      for (int h = l * leafHosts; h < std::min(hosts, (l + 1) * leafHosts); ++h) {
        for (NodeId nicId : nicsOf[static_cast<size_t>(h)]) {
          const Node& nic = sys.node(nicId);
          if (nic.rail != r) continue;
          const double gbps = nic.speedGbps > 0 ? nic.speedGbps : kUnknownNicGbps;
          sys.addLink(makeNetwork(nicId, leaf, gbps));
          downGbps += gbps;
          ++downlinks;
        }
      }
      if (needSpine && downlinks > 0) {
        Link up = makeNetwork(leaf, spine, downGbps / downlinks, downlinks);
        up.bw /= oversub;
        up.speedGbps = downGbps / downlinks;
        sys.addLink(up);
      }
    }
  }
  char note[256];
  std::snprintf(note, sizeof note,
                "network: rail-optimized fat tree, %d rails x %d leaves (%d hosts per leaf), %s, "
                "oversubscription %g:1",
                rails, leavesPerRail, leafHosts, needSpine ? "one spine layer" : "no spine",
                oversub);
  sys.addNote(note);
}

}  // namespace plexus::topo
