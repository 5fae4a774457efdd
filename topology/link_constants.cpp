// Link constants: the figures of REFERENCE.md "Link constants", and the estimates that fill its
// gaps (each marked so in its source column).
#include "topology/link_constants.hpp"

#include <cmath>

namespace plexus::topo {
namespace {

// NVLink per link and direction: nominal / modelled.
struct NvlinkGen {
  double nominal;
  double modeled;
};
constexpr NvlinkGen kNvlink[] = {
    {0, 0},      // unknown
    {20, 16},    // NVLink 1 (P100): estimate, modelled at 0.8 of nominal as NVLink 3
    {25, 20},    // NVLink 2 (V100): estimate, modelled at 0.8 of nominal as NVLink 3
    {25, 20},    // NVLink 3 (A100): REFERENCE 12 x 25 = 300 GB/s; NCCL models 20 (SM80)
    {25, 20.6},  // NVLink 4 (H100/H200): REFERENCE 18 x 25 = 450 GB/s; NCCL models 20.6 (SM90)
    {50, 40.1},  // NVLink 5 (B200/GB200): REFERENCE 18 x 50 = 900 GB/s; NCCL models 40.1 (SM100)
};

// PCIe x16 per direction: nominal / modelled, index = generation.
constexpr double kPcieNominalX16[] = {0, 4.0, 8.0, 15.8, 31.5, 63.0, 121.0};
constexpr double kPcieModeledX16[] = {0, 3.0, 6.0, 12.0, 24.0, 48.0, 96.0};

constexpr LinkConstantRow kRows[] = {
    {"NVLink 1 (per link)", 20, 16, "estimate (0.8 of nominal, the NVLink 3 ratio)"},
    {"NVLink 2 (per link)", 25, 20, "estimate (0.8 of nominal, the NVLink 3 ratio)"},
    {"NVLink 3 (per link)", 25, 20, "REFERENCE: A100 12 x 25 GB/s; NCCL models 20 (SM80)"},
    {"NVLink 4 (per link)", 25, 20.6, "REFERENCE: H100 18 x 25 GB/s; NCCL models 20.6 (SM90)"},
    {"NVLink 5 (per link)", 50, 40.1, "REFERENCE: GB200 18 x 50 GB/s; NCCL models 40.1 (SM100)"},
    {"PCIe Gen1 x16", 4.0, 3.0, "estimate (half of Gen2)"},
    {"PCIe Gen2 x16", 8.0, 6.0, "estimate (half of Gen3)"},
    {"PCIe Gen3 x16", 15.8, 12.0, "REFERENCE: 15.8 GB/s; NCCL models 12"},
    {"PCIe Gen4 x16", 31.5, 24.0, "REFERENCE: 31.5 GB/s; NCCL models 24"},
    {"PCIe Gen5 x16", 63.0, 48.0, "REFERENCE: 63 GB/s; NCCL models 48"},
    {"PCIe Gen6 x16", 121.0, 96.0, "REFERENCE: 121 GB/s; NCCL models 96"},
    {"Network 200 Gb/s (HDR)", 25.0, 23.5,
     "REFERENCE: NDR delivers 46-48 of 50 GB/s in nccl-tests, so 0.94 x line rate / 8"},
    {"Network 400 Gb/s (NDR)", 50.0, 47.0, "REFERENCE: NDR delivers 46-48 GB/s per NIC"},
    {"Network 800 Gb/s (XDR)", 100.0, 94.0, "REFERENCE: line rate; 0.94 efficiency as NDR"},
    {"CPU interconnect Intel Skylake/Cascade Lake", 0, 10.0, "REFERENCE: NCCL models SKL 10"},
    {"CPU interconnect Intel Sapphire Rapids", 0, 22.0, "REFERENCE: NCCL models SPR 22"},
    {"CPU interconnect Intel Emerald Rapids", 0, 40.0, "REFERENCE: NCCL models EMR 40"},
    {"CPU interconnect AMD", 0, 16.0, "REFERENCE: NCCL models AMD 16"},
    {"CPU interconnect other (Intel older, Arm)", 0, 16.0, "estimate (no figure in REFERENCE)"},
    {"NVLink-C2C (Grace-GPU)", 450.0, 361.0,
     "estimate: 900 GB/s bidirectional public figure, scaled by NVLink 5's 40.1/50"},
};

}  // namespace

std::span<const LinkConstantRow> linkConstantTable() {
  return kRows;
}

int nvlinkGenForSm(int sm) {
  if (sm >= 100) return 5;
  if (sm >= 90) return 4;
  if (sm >= 80) return 3;
  if (sm >= 70) return 2;
  if (sm >= 60) return 1;
  return 0;
}

double nvlinkModeledPerLink(int gen) {
  if (gen < 1 || gen > 5) gen = 3;  // unknown: assume the A100 figure
  return kNvlink[gen].modeled;
}

double nvlinkNominalPerLink(int gen) {
  if (gen < 1 || gen > 5) gen = 3;
  return kNvlink[gen].nominal;
}

int pcieGenFromGts(double gts) {
  if (!(gts > 0)) return 0;
  constexpr double rates[] = {0, 2.5, 5, 8, 16, 32, 64};
  for (int g = 1; g <= 6; ++g)
    if (std::fabs(gts - rates[g]) < 0.3) return g;
  return 0;
}

double pcieGts(int gen) {
  constexpr double rates[] = {0, 2.5, 5, 8, 16, 32, 64};
  return gen >= 1 && gen <= 6 ? rates[gen] : 0;
}

double pcieModeled(int gen, int width) {
  if (gen < 1 || gen > 6) gen = 3;
  if (width <= 0) width = 16;
  return kPcieModeledX16[gen] * width / 16.0;
}

double pcieNominal(int gen, int width) {
  if (gen < 1 || gen > 6) gen = 3;
  if (width <= 0) width = 16;
  return kPcieNominalX16[gen] * width / 16.0;
}

double networkModeled(double gbps) {
  return gbps / 8.0 * kNetworkEfficiency;
}
double networkNominal(double gbps) {
  return gbps / 8.0;
}

double cpuInterconnectModeled(std::string_view vendor, int familyId, int modelId,
                              std::string_view arch) {
  if (vendor == "GenuineIntel" && familyId == 6) {
    if (modelId == 0xCF) return 40.0;  // Emerald Rapids
    if (modelId == 0x8F) return 22.0;  // Sapphire Rapids
    return 10.0;                       // Skylake / Cascade Lake and older
  }
  if (vendor == "AuthenticAMD" || vendor == "HygonGenuine") return 16.0;
  return 16.0;  // estimate for Arm and unknown CPUs
}

double c2cModeled() {
  return 361.0;
}
double c2cNominal() {
  return 450.0;
}

Link makeNvlink(NodeId a, NodeId b, int gen, int count) {
  Link l;
  l.a = a;
  l.b = b;
  l.type = LinkType::kNvLink;
  l.gen = gen;
  l.count = count;
  l.bw = nvlinkModeledPerLink(gen) * count;
  l.latencyUs = kNvlinkLatencyUs;
  return l;
}

Link makePcie(NodeId a, NodeId b, int gen, int width) {
  Link l;
  l.a = a;
  l.b = b;
  l.type = LinkType::kPcie;
  l.gen = gen;
  l.width = width;
  l.bw = pcieModeled(gen, width);
  l.latencyUs = kPcieLatencyUs;
  return l;
}

Link makeNetwork(NodeId a, NodeId b, double gbps, int count) {
  Link l;
  l.a = a;
  l.b = b;
  l.type = LinkType::kNetwork;
  l.count = count;
  l.speedGbps = gbps;
  l.bw = networkModeled(gbps) * count;
  l.latencyUs = kNetworkLatencyUs;
  return l;
}

Link makeCpuLink(NodeId a, NodeId b, double bw) {
  Link l;
  l.a = a;
  l.b = b;
  l.type = LinkType::kCpuInterconnect;
  l.bw = bw;
  l.latencyUs = kCpuLatencyUs;
  return l;
}

Link makeC2C(NodeId a, NodeId b, int count) {
  Link l;
  l.a = a;
  l.b = b;
  l.type = LinkType::kC2C;
  l.count = count;
  l.bw = c2cModeled() * count;
  l.latencyUs = kC2CLatencyUs;
  return l;
}

}  // namespace plexus::topo
