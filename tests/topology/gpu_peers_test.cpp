// GPU peer-to-peer facts feeding the graph, with injected NVML / CUDA data: path classes of GPU
// pairs, the default P2P rule, CUDA overriding it, NVLinks vouched for by NVML, and the inventory
// route (NVML's P2P status through buildFromInventory).
#include "topology/gpu_peers.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"
#include "topology/inventory.hpp"
#include "topology/link_constants.hpp"
#include "topology/synthetic.hpp"

namespace plexus::topo {
namespace {

using test::nodeId;

// Two NUMA domains; GPU0 and GPU1 behind one PCIe switch of CPU0, GPU2 straight on CPU0, GPU3 on
// CPU1.
System pcieHost() {
  System s("pcie");
  s.addHost("pcie");
  auto add = [&](NodeType t, const std::string& name, const std::string& bus, int index) {
    Node n;
    n.type = t;
    n.name = name;
    n.host = 0;
    n.index = index;
    n.busId = bus;
    n.sm = t == NodeType::kGpu ? 90 : 0;
    return s.addNode(n);
  };
  const NodeId cpu0 = add(NodeType::kCpu, "CPU0", "", 0);
  const NodeId cpu1 = add(NodeType::kCpu, "CPU1", "", 1);
  const NodeId sw = add(NodeType::kPci, "PCI0", "0000:05:00.0", 0);
  const NodeId g0 = add(NodeType::kGpu, "GPU0", "0000:10:00.0", 0);
  const NodeId g1 = add(NodeType::kGpu, "GPU1", "0000:11:00.0", 1);
  const NodeId g2 = add(NodeType::kGpu, "GPU2", "0000:12:00.0", 2);
  const NodeId g3 = add(NodeType::kGpu, "GPU3", "0000:93:00.0", 3);
  s.addLink(makeCpuLink(cpu0, cpu1, 40));
  s.addLink(makePcie(cpu0, sw, 5, 16));
  s.addLink(makePcie(sw, g0, 5, 16));
  s.addLink(makePcie(sw, g1, 5, 16));
  s.addLink(makePcie(cpu0, g2, 5, 16));
  s.addLink(makePcie(cpu1, g3, 5, 16));
  return s;
}

const GpuPeerLink& linkOf(const std::vector<GpuPeerLink>& links, const System& s, const char* a,
                          const char* b) {
  const NodeId x = nodeId(s, a), y = nodeId(s, b);
  for (const GpuPeerLink& l : links)
    if ((l.a == x && l.b == y) || (l.a == y && l.b == x)) return l;
  ADD_FAILURE() << "no pair " << a << "-" << b;
  return links.front();
}

TEST(GpuPeers, PcieClassesAndTheDefaultRule) {
  System s = pcieHost();
  const auto links = applyGpuPeers(s, 0, GpuPeerFacts{});
  ASSERT_EQ(links.size(), 6u);
  const GpuPeerLink& pix = linkOf(links, s, "GPU0", "GPU1");
  EXPECT_EQ(pix.cls, PathClass::kPix);
  EXPECT_TRUE(pix.p2p);
  EXPECT_FALSE(pix.atomics);
  EXPECT_FALSE(pix.fromCuda);
  EXPECT_EQ(linkOf(links, s, "GPU0", "GPU2").cls, PathClass::kPhb);
  EXPECT_FALSE(linkOf(links, s, "GPU0", "GPU2").p2p);
  EXPECT_EQ(linkOf(links, s, "GPU1", "GPU3").cls, PathClass::kSys);
  EXPECT_FALSE(linkOf(links, s, "GPU1", "GPU3").p2p);
  EXPECT_EQ(s.node(nodeId(s, "GPU0")).props.at("p2p.GPU1"),
            "class=PIX p2p=1 atomics=0 source=graph");
  EXPECT_EQ(s.node(nodeId(s, "GPU3")).props.at("p2p.GPU0"),
            "class=SYS p2p=0 atomics=0 source=graph");
}

TEST(GpuPeers, CudaSaysOtherwise) {
  System s = pcieHost();
  GpuPeerFacts facts;
  GpuPairFacts f;
  f.busA = "0000:12:00.0";  // GPU2 - GPU0 across the host bridge: CUDA allows it
  f.busB = "10:00.0";       // bus ids are canonicalised
  f.access = 1;
  f.atomics = 1;
  f.performanceRank = 1;
  f.source = "cuda";
  facts.merge(f);
  f.busA = "0000:10:00.0";  // GPU0 - GPU1 behind one switch: CUDA refuses (ACS, IOMMU, ...)
  f.busB = "0000:11:00.0";
  f.access = 0;
  f.atomics = 0;
  f.performanceRank = -1;
  facts.merge(f);
  const auto links = applyGpuPeers(s, 0, facts);
  const GpuPeerLink& phb = linkOf(links, s, "GPU0", "GPU2");
  EXPECT_EQ(phb.cls, PathClass::kPhb);
  EXPECT_TRUE(phb.p2p);
  EXPECT_TRUE(phb.atomics);
  EXPECT_TRUE(phb.fromCuda);
  EXPECT_FALSE(linkOf(links, s, "GPU0", "GPU1").p2p);
  EXPECT_EQ(s.node(nodeId(s, "GPU2")).props.at("p2p.GPU0"),
            "class=PHB p2p=1 atomics=1 rank=1 source=cuda");
}

TEST(GpuPeers, MergeGivesCudaTheLastWord) {
  GpuPeerFacts facts;
  GpuPairFacts nvml{"0000:10:00.0", "0000:11:00.0", 0, 0, 1, -1, "nvml"};
  GpuPairFacts cuda{"0000:11:00.0", "0000:10:00.0", 1, 1, -1, 0, "cuda"};
  facts.merge(nvml);
  facts.merge(cuda);
  facts.merge(nvml);  // a later NVML view does not undo CUDA's access or atomics
  ASSERT_EQ(facts.pairs.size(), 1u);
  const GpuPairFacts& p = facts.pairs[0];
  EXPECT_EQ(p.busA, "0000:10:00.0");
  EXPECT_EQ(p.access, 1);
  EXPECT_EQ(p.atomics, 1);
  EXPECT_EQ(p.nvlink, 1);
  EXPECT_EQ(p.performanceRank, 0);
  EXPECT_EQ(p.source, "cuda+nvml");
}

TEST(GpuPeers, NvmlNvlinkTheGraphLackedIsAdded) {
  System s = pcieHost();
  GpuPeerFacts facts;
  facts.merge({"0000:12:00.0", "0000:93:00.0", 1, 1, 1, -1, "nvml"});
  const auto links = applyGpuPeers(s, 0, facts);
  EXPECT_EQ(s.countLinks(LinkType::kNvLink), 1u);
  const GpuPeerLink& l = linkOf(links, s, "GPU2", "GPU3");
  EXPECT_EQ(l.cls, PathClass::kNvl);
  EXPECT_EQ(l.nvlinks, 1);
  EXPECT_TRUE(l.p2p);
  EXPECT_TRUE(l.atomics);
  bool noted = false;
  for (const std::string& n : s.notes()) noted = noted || n.find("GPU2 and GPU3") != n.npos;
  EXPECT_TRUE(noted);
  applyGpuPeers(s, 0, facts);  // applying again adds nothing
  EXPECT_EQ(s.countLinks(LinkType::kNvLink), 1u);
}

TEST(GpuPeers, NvswitchSystemIsAllNvl) {
  System s = makeSyntheticSystem("dgx-h100");
  const auto links = applyGpuPeers(s, 0, GpuPeerFacts{});
  ASSERT_EQ(links.size(), 28u);
  for (const GpuPeerLink& l : links) {
    EXPECT_EQ(l.cls, PathClass::kNvl);
    EXPECT_EQ(l.nvlinks, 18);
    EXPECT_TRUE(l.p2p);
    EXPECT_TRUE(l.atomics);
  }
  EXPECT_EQ(s.countLinks(LinkType::kNvLink),
            makeSyntheticSystem("dgx-h100").countLinks(LinkType::kNvLink));  // nothing added
}

// NVML's P2P status in the inventory reaches the graph through buildFromInventory: two PCIe GPUs
// whose NVLink remote ends were not read, but whose P2P status says NVLink works; one end says
// atomics are not supported (status 2), which wins.
TEST(GpuPeers, InventoryP2pStatusFeedsTheGraph) {
  Inventory inv;
  inv.hostname = "h";
  CpuDomain d;
  d.numa = 0;
  d.pus = {0, 1};
  d.cores = 2;
  inv.cpus.push_back(d);
  inv.haveCpus = true;
  inv.haveGpus = true;
  for (int g = 0; g < 2; ++g) {
    GpuInfo gi;
    gi.index = g;
    gi.busId = "0000:1" + std::to_string(g) + ":00.0";
    gi.sm = 80;
    GpuP2pStatus st;
    st.remoteBusId = "0000:1" + std::to_string(1 - g) + ":00.0";
    st.read = st.write = st.nvlink = 0;
    st.atomics = g == 0 ? 0 : 2;
    gi.p2p.push_back(st);
    inv.gpus.push_back(gi);
    PciDevice pd;
    pd.busId = gi.busId;
    pd.classCode = 0x030200;
    pd.vendor = 0x10de;
    pd.numa = 0;
    pd.linkGen = 4;
    pd.linkWidth = 16;
    inv.pci.push_back(pd);
  }
  const GpuPeerFacts facts = gpuPeerFactsFromInventory(inv);
  ASSERT_EQ(facts.pairs.size(), 1u);
  EXPECT_EQ(facts.pairs[0].access, 1);
  EXPECT_EQ(facts.pairs[0].atomics, 0);
  EXPECT_EQ(facts.pairs[0].nvlink, 1);
  const System s = buildFromInventory(inv);
  EXPECT_EQ(s.countLinks(LinkType::kNvLink), 1u);
  EXPECT_EQ(s.node(nodeId(s, "GPU0")).props.at("p2p.GPU1"),
            "class=NVL p2p=1 atomics=0 nvlinks=1 source=nvml");
}

TEST(GpuPeers, CudaFactsWithoutADeviceLeaveANote) {
  GpuPeerFacts facts;
  addCudaPeerFacts(facts);
  // No GPU here: nothing is known, and the note says why (a GPU machine with 2+ devices would
  // fill pairs instead).
  if (!facts.pairs.empty()) GTEST_SKIP() << "CUDA devices present";
  ASSERT_EQ(facts.notes.size(), 1u);
  EXPECT_NE(facts.notes[0].find("CUDA P2P attributes"), std::string::npos);
}

TEST(GpuPeers, DefaultRuleByClass) {
  EXPECT_TRUE(p2pByDefault(PathClass::kLoc));  // several ranks on one GPU
  EXPECT_TRUE(p2pByDefault(PathClass::kNvl));
  EXPECT_TRUE(p2pByDefault(PathClass::kNvb));
  EXPECT_TRUE(p2pByDefault(PathClass::kPxb));
  EXPECT_FALSE(p2pByDefault(PathClass::kPhb));
  EXPECT_FALSE(p2pByDefault(PathClass::kSys));
  EXPECT_FALSE(p2pByDefault(PathClass::kNet));
  EXPECT_FALSE(p2pByDefault(PathClass::kDis));
}

}  // namespace
}  // namespace plexus::topo
