// Graph model: node/link bookkeeping, name resolution, CPU set and bus id helpers.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "topology/graph.hpp"
#include "topology/link_constants.hpp"

namespace plexus::topo {
namespace {

Node named(NodeType t, const std::string& name, int host = 0) {
  Node n;
  n.type = t;
  n.name = name;
  n.host = host;
  return n;
}

TEST(Graph, AddNodesAndLinks) {
  System s("t");
  s.addHost("h");
  const NodeId cpu = s.addNode(named(NodeType::kCpu, "CPU0"));
  Node g = named(NodeType::kGpu, "GPU0");
  g.busId = "0000:18:00.0";
  const NodeId gpu = s.addNode(g);
  EXPECT_EQ(cpu, 0);
  EXPECT_EQ(gpu, 1);
  const int l = s.addLink(makePcie(cpu, gpu, 5, 16));
  EXPECT_EQ(l, 0);
  EXPECT_EQ(s.linksOf(cpu).size(), 1u);
  EXPECT_EQ(s.link(0).other(cpu), gpu);
  EXPECT_DOUBLE_EQ(s.link(0).bw, 48.0);
  EXPECT_EQ(s.countLinks(LinkType::kPcie), 1u);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 1u);
}

TEST(Graph, RejectsDuplicatesAndBadLinks) {
  System s("t");
  s.addHost("h");
  s.addNode(named(NodeType::kCpu, "CPU0"));
  EXPECT_THROW(s.addNode(named(NodeType::kCpu, "CPU0")), Error);
  EXPECT_THROW(s.addNode(named(NodeType::kCpu, "")), Error);
  EXPECT_THROW(s.addNode(named(NodeType::kCpu, "X", 3)), Error);
  EXPECT_THROW(s.addLink(makePcie(0, 0, 3, 16)), Error);
  EXPECT_THROW(s.addLink(makePcie(0, 7, 3, 16)), Error);
  s.addNode(named(NodeType::kCpu, "CPU1"));
  EXPECT_THROW(s.addLink(makeCpuLink(0, 1, 0)), Error);
  EXPECT_NO_THROW(s.addLink(makeCpuLink(0, 1, 16)));
}

TEST(Graph, ResolvesNamesBusIdsAndNetdevs) {
  System s("t");
  s.addHost("h");
  Node g = named(NodeType::kGpu, "GPU0");
  g.busId = "0000:18:00.0";
  s.addNode(g);
  Node n = named(NodeType::kNic, "NIC0");
  n.ifname = "ib0";
  n.rdmaDevice = "mlx5_0";
  n.port = 1;
  s.addNode(n);
  EXPECT_EQ(s.resolve("GPU0"), 0);
  EXPECT_EQ(s.resolve("gpu0"), 0);
  EXPECT_EQ(s.resolve("18:00.0"), 0);
  EXPECT_EQ(s.resolve("0000:18:00.0"), 0);
  EXPECT_EQ(s.resolve("ib0"), 1);
  EXPECT_EQ(s.resolve("mlx5_0"), 1);
  EXPECT_EQ(s.resolve("mlx5_0:1"), 1);
  EXPECT_FALSE(s.resolve("GPU9").has_value());
}

TEST(Graph, CanonicalBusId) {
  EXPECT_EQ(canonicalBusId("18:00.0"), "0000:18:00.0");
  EXPECT_EQ(canonicalBusId("0000:1A:00.1"), "0000:1a:00.1");
  EXPECT_EQ(canonicalBusId("ffff:ff:01.0"), "ffff:ff:01.0");
  EXPECT_EQ(canonicalBusId("0008:01:00"), "0008:01:00.0");
  EXPECT_EQ(canonicalBusId("eth0"), "eth0");
  EXPECT_EQ(canonicalBusId("00000000:18:00.0"), "0000:18:00.0");
  EXPECT_EQ(canonicalBusId("00010000:01:00.0"), "10000:01:00.0");
}

TEST(Graph, CpuListRoundTrip) {
  EXPECT_EQ(parseCpuList("0-3,8,10-11"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(formatCpuList({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
  EXPECT_EQ(formatCpuList({5}), "5");
  EXPECT_EQ(formatCpuList({}), "");
  EXPECT_EQ(parseCpuList("0-1\n"), (std::vector<int>{0, 1}));
  EXPECT_THROW(parseCpuList("3-1"), Error);
  EXPECT_THROW(parseCpuList("a"), Error);
}

TEST(Graph, CpuMaskRoundTrip) {
  // The masks of the Azure ND A100 v4 file: 24 CPUs per NUMA node over 96.
  EXPECT_EQ(formatCpuList(parseCpuMask("00000000,00000000,00ffffff")), "0-23");
  EXPECT_EQ(formatCpuList(parseCpuMask("00000000,0000ffff,ff000000")), "24-47");
  EXPECT_EQ(formatCpuList(parseCpuMask("000000ff,ffff0000,00000000")), "48-71");
  EXPECT_EQ(formatCpuList(parseCpuMask("ffffff00,00000000,00000000")), "72-95");
  EXPECT_EQ(formatCpuMask(parseCpuList("24-47"), 3), "00000000,0000ffff,ff000000");
  EXPECT_EQ(formatCpuMask(parseCpuList("0-1"), 1), "00000003");
  EXPECT_EQ(formatCpuMask(parseCpuList("33"), 1), "00000002,00000000");
  EXPECT_THROW(parseCpuMask("xyz"), Error);
  EXPECT_THROW(parseCpuMask("123456789"), Error);
}

TEST(LinkConstants, FiguresFromReference) {
  EXPECT_DOUBLE_EQ(nvlinkModeledPerLink(4) * 18, 20.6 * 18);
  EXPECT_DOUBLE_EQ(nvlinkNominalPerLink(4) * 18, 450.0);
  EXPECT_DOUBLE_EQ(nvlinkNominalPerLink(5) * 18, 900.0);
  EXPECT_DOUBLE_EQ(nvlinkModeledPerLink(3), 20.0);
  EXPECT_EQ(nvlinkGenForSm(80), 3);
  EXPECT_EQ(nvlinkGenForSm(90), 4);
  EXPECT_EQ(nvlinkGenForSm(100), 5);
  EXPECT_DOUBLE_EQ(pcieModeled(5, 16), 48.0);
  EXPECT_DOUBLE_EQ(pcieModeled(4, 8), 12.0);
  EXPECT_DOUBLE_EQ(pcieModeled(0, 0), 12.0);  // unknown: Gen3 x16 as NCCL
  EXPECT_EQ(pcieGenFromGts(16), 4);
  EXPECT_EQ(pcieGenFromGts(2.5), 1);
  EXPECT_EQ(pcieGenFromGts(7), 0);
  EXPECT_DOUBLE_EQ(networkModeled(400), 47.0);
  EXPECT_DOUBLE_EQ(cpuInterconnectModeled("GenuineIntel", 6, 0x8F, "x86_64"), 22.0);
  EXPECT_DOUBLE_EQ(cpuInterconnectModeled("GenuineIntel", 6, 85, "x86_64"), 10.0);
  EXPECT_DOUBLE_EQ(cpuInterconnectModeled("GenuineIntel", 6, 0xCF, "x86_64"), 40.0);
  EXPECT_DOUBLE_EQ(cpuInterconnectModeled("AuthenticAMD", 23, 49, "x86_64"), 16.0);
  EXPECT_GE(linkConstantTable().size(), 15u);
}

}  // namespace
}  // namespace plexus::topo
