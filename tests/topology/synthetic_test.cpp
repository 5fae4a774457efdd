// Synthetic systems: node and link counts, path classes and NVLink counts that must match the
// public descriptions (REFERENCE.md "Systems"), clusters and the spec syntax.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "topology/discovery.hpp"
#include "topology/paths.hpp"
#include "topology/synthetic.hpp"

namespace plexus::topo {
namespace {

NodeId id(const System& s, const std::string& name) {
  auto n = s.findByName(name);
  EXPECT_TRUE(n.has_value()) << name;
  return n.value_or(0);
}

TEST(Synthetic, DgxH100Counts) {
  const System s = makeSyntheticSystem("dgx-h100");
  EXPECT_EQ(s.hostCount(), 1);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 8u);
  EXPECT_EQ(s.countNodes(NodeType::kNic), 8u);
  EXPECT_EQ(s.countNodes(NodeType::kNvSwitch), 4u);
  EXPECT_EQ(s.countNodes(NodeType::kCpu), 2u);
  EXPECT_EQ(s.countNodes(NodeType::kNetSwitch), 0u);
  EXPECT_EQ(s.countLinks(LinkType::kNvLink), 32u);  // 8 GPUs x 4 chips
  for (NodeId g : s.nodesOfType(NodeType::kGpu)) {
    int links = 0;
    for (int li : s.linksOf(g))
      if (s.link(li).type == LinkType::kNvLink) links += s.link(li).count;
    EXPECT_EQ(links, 18) << s.node(g).name;
  }
  for (NodeId n : s.nodesOfType(NodeType::kNic)) EXPECT_DOUBLE_EQ(s.node(n).speedGbps, 400.0);
}

TEST(Synthetic, DgxH100Classes) {
  const System s = makeSyntheticSystem("dgx-h100");
  PathFinder f(s);
  const auto gpus = s.nodesOfType(NodeType::kGpu);
  PathTable t = f.table(gpus);
  for (size_t i = 0; i < gpus.size(); ++i)
    for (size_t j = 0; j < gpus.size(); ++j) {
      if (i == j) {
        EXPECT_EQ(t.at(i, j).cls, PathClass::kLoc);
        continue;
      }
      EXPECT_EQ(t.at(i, j).cls, PathClass::kNvl) << i << "," << j;
      EXPECT_EQ(t.at(i, j).nvlinks, 18) << i << "," << j;
      EXPECT_NEAR(t.at(i, j).bw, 18 * 20.6, 1e-3);
    }
  EXPECT_EQ(f.find(id(s, "GPU0"), id(s, "NIC0")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(id(s, "GPU0"), id(s, "NIC1")).cls, PathClass::kPhb);
  EXPECT_EQ(f.find(id(s, "GPU0"), id(s, "NIC4")).cls, PathClass::kSys);
  EXPECT_EQ(f.find(id(s, "GPU7"), id(s, "NIC7")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(id(s, "NIC0"), id(s, "NIC7")).cls, PathClass::kSys);
  const Path p = f.find(id(s, "GPU0"), id(s, "NIC0"));
  EXPECT_DOUBLE_EQ(p.bw, 48.0);
  EXPECT_EQ(p.hops.size(), 3u);
  const Path nv = f.find(id(s, "GPU0"), id(s, "GPU5"));
  ASSERT_EQ(nv.hops.size(), 3u);
  EXPECT_EQ(nv.hops[1].members, 4);
  EXPECT_NEAR(nv.latencyUs, 0.6, 1e-9);
}

TEST(Synthetic, DgxA100Classes) {
  const System s = makeSyntheticSystem("dgx-a100");
  EXPECT_EQ(s.countNodes(NodeType::kNvSwitch), 6u);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 8u);
  PathFinder f(s);
  const Path nv = f.find(id(s, "GPU0"), id(s, "GPU7"));
  EXPECT_EQ(nv.cls, PathClass::kNvl);
  EXPECT_EQ(nv.nvlinks, 12);
  EXPECT_NEAR(nv.bw, 240.0, 1e-3);
  EXPECT_EQ(f.find(id(s, "GPU0"), id(s, "NIC0")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(id(s, "GPU0"), id(s, "NIC1")).cls, PathClass::kPxb);
  EXPECT_EQ(f.find(id(s, "GPU0"), id(s, "NIC2")).cls, PathClass::kPhb);
  EXPECT_EQ(f.find(id(s, "GPU0"), id(s, "NIC5")).cls, PathClass::kSys);
  EXPECT_DOUBLE_EQ(f.find(id(s, "GPU0"), id(s, "NIC0")).bw, 24.0);
}

TEST(Synthetic, Gb200Nvl72) {
  const System s = makeSyntheticSystem("gb200-nvl72");
  EXPECT_EQ(s.hostCount(), 18);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 72u);
  EXPECT_EQ(s.countNodes(NodeType::kNic), 72u);
  EXPECT_EQ(s.countNodes(NodeType::kNvSwitch), 18u);
  EXPECT_EQ(s.countNodes(NodeType::kCpu), 36u);
  EXPECT_EQ(s.countLinks(LinkType::kNvLink), 72u * 18u);
  EXPECT_EQ(s.countLinks(LinkType::kC2C), 72u);
  PathFinder f(s);
  const Path far = f.find(id(s, "node00/GPU0"), id(s, "node17/GPU3"));
  EXPECT_EQ(far.cls, PathClass::kNvl);
  EXPECT_EQ(far.nvlinks, 18);
  EXPECT_NEAR(far.bw, 18 * 40.1, 1e-3);
  EXPECT_EQ(f.find(id(s, "node00/GPU0"), id(s, "node00/CPU0")).cls, PathClass::kC2C);
  EXPECT_EQ(f.find(id(s, "node00/GPU0"), id(s, "node00/NIC0")).cls, PathClass::kPhb);
  EXPECT_EQ(f.find(id(s, "node00/GPU0"), id(s, "node00/NIC3")).cls, PathClass::kSys);
  EXPECT_EQ(f.find(id(s, "node00/GPU0"), id(s, "node05/NIC0")).cls, PathClass::kNet);
  EXPECT_EQ(f.find(id(s, "node00/NIC0"), id(s, "node05/NIC2")).cls, PathClass::kNet);
  for (NodeId g : s.nodesOfType(NodeType::kGpu)) EXPECT_EQ(s.node(g).nvlinkDomain, "nvl72-0");
}

TEST(Synthetic, Nvl576TwoTiers) {
  const System s = makeSyntheticSystem("nvl576");
  EXPECT_EQ(s.hostCount(), 144);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 576u);
  EXPECT_EQ(s.countNodes(NodeType::kNvSwitch), 8u * 18u + 18u);
  PathFinder f(s);
  const Path inGroup = f.find(id(s, "node000/GPU0"), id(s, "node017/GPU3"));
  EXPECT_EQ(inGroup.cls, PathClass::kNvl);
  EXPECT_EQ(inGroup.hops.size(), 3u);
  const Path across = f.find(id(s, "node000/GPU0"), id(s, "node143/GPU3"));
  EXPECT_EQ(across.cls, PathClass::kNvl);
  EXPECT_EQ(across.nvlinks, 18);
  EXPECT_EQ(across.hops.size(), 5u);  // GPU, tier 1 group, tier 2, tier 1 group, GPU
  EXPECT_NEAR(across.bw, 18 * 40.1, 1e-3);
  EXPECT_FALSE(s.notes().empty());
}

TEST(Synthetic, ClusterOfDgxH100) {
  const System s = makeSyntheticSystem("dgx-h100:x4");
  EXPECT_EQ(s.name(), "dgx-h100:x4");
  EXPECT_EQ(s.hostCount(), 4);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 32u);
  EXPECT_EQ(s.countNodes(NodeType::kNetSwitch), 8u + 1u);  // 8 rail leaves + spine
  EXPECT_EQ(s.countLinks(LinkType::kNetwork), 32u + 8u);
  PathFinder f(s);
  const Path sameRail = f.find(id(s, "node00/NIC3"), id(s, "node02/NIC3"));
  EXPECT_EQ(sameRail.cls, PathClass::kNet);
  EXPECT_EQ(sameRail.hops.size(), 3u);
  const Path crossRail = f.find(id(s, "node00/NIC3"), id(s, "node02/NIC4"));
  EXPECT_EQ(crossRail.hops.size(), 5u);
  const Path g = f.find(id(s, "node00/GPU0"), id(s, "node01/GPU0"));
  EXPECT_EQ(g.cls, PathClass::kNet);
  EXPECT_DOUBLE_EQ(g.bw, 47.0);  // 400G NIC (0.94 efficiency) below PCIe Gen5 48
  EXPECT_EQ(g.hops.size(), 7u);  // GPU, PCI, NIC, leaf, NIC, PCI, GPU
  // Same host still NVLink.
  EXPECT_EQ(f.find(id(s, "node03/GPU0"), id(s, "node03/GPU7")).cls, PathClass::kNvl);
}

TEST(Synthetic, ClusterParameters) {
  const System s = makeSyntheticSystem("dgx-h100:x4,nic=200,oversub=2,leaf=2");
  for (NodeId n : s.nodesOfType(NodeType::kNic)) EXPECT_DOUBLE_EQ(s.node(n).speedGbps, 200.0);
  EXPECT_EQ(s.countNodes(NodeType::kNetSwitch), 16u + 1u);  // 8 rails x 2 leaves + spine
  // Leaf uplink: 2 hosts x 200G x 0.94 / 8 / oversubscription 2.
  const NodeId leaf = id(s, "leaf.r0.0");
  bool found = false;
  for (int li : s.linksOf(leaf)) {
    const Link& l = s.link(li);
    if (s.node(l.other(leaf)).name != "spine") continue;
    found = true;
    EXPECT_DOUBLE_EQ(l.bw, 2 * 23.5 / 2);
    EXPECT_EQ(l.count, 2);
  }
  EXPECT_TRUE(found);
  PathFinder f(s);
  EXPECT_DOUBLE_EQ(f.find(id(s, "node00/GPU0"), id(s, "node01/GPU0")).bw, 23.5);
}

TEST(Synthetic, SpecSyntax) {
  const SyntheticSpec a = parseSyntheticSpec("dgx-h100");
  EXPECT_EQ(a.base, "dgx-h100");
  EXPECT_EQ(a.copies, 1);
  const SyntheticSpec b = parseSyntheticSpec("gb200-nvl72:x3,nic=800,oversub=1.5,leaf=16");
  EXPECT_EQ(b.copies, 3);
  EXPECT_DOUBLE_EQ(b.nicGbps, 800.0);
  EXPECT_DOUBLE_EQ(b.oversub, 1.5);
  EXPECT_EQ(b.leafHosts, 16);
  EXPECT_THROW(parseSyntheticSpec("dgx-h200"), Error);
  EXPECT_THROW(parseSyntheticSpec("dgx-h100:"), Error);
  EXPECT_THROW(parseSyntheticSpec("dgx-h100:x0"), Error);
  EXPECT_THROW(parseSyntheticSpec("dgx-h100:x2.5"), Error);
  EXPECT_THROW(parseSyntheticSpec("dgx-h100:nic=fast"), Error);
  EXPECT_THROW(parseSyntheticSpec("dgx-h100:oversub=0.5"), Error);
  EXPECT_THROW(parseSyntheticSpec("dgx-h100:x2,,nic=1"), Error);
  EXPECT_THROW(parseSyntheticSpec("dgx-h100:speed=1"), Error);
  try {
    parseSyntheticSpec("dgx-h100:bogus");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("Syntax"), std::string::npos);
  }
  EXPECT_EQ(syntheticSystems().size(), 5u);
}

TEST(Synthetic, MultiRackNvl72KeepsDomainsApart) {
  const System s = makeSyntheticSystem("gb200-nvl72:x2");
  EXPECT_EQ(s.hostCount(), 36);
  EXPECT_EQ(s.countNodes(NodeType::kNvSwitch), 36u);
  PathFinder f(s);
  EXPECT_EQ(f.find(id(s, "node00/GPU0"), id(s, "node17/GPU0")).cls, PathClass::kNvl);
  EXPECT_EQ(f.find(id(s, "node00/GPU0"), id(s, "node18/GPU0")).cls, PathClass::kNet);
  EXPECT_EQ(s.node(id(s, "node18/GPU0")).nvlinkDomain, "nvl72-1");
}

}  // namespace
}  // namespace plexus::topo

namespace plexus::topo {
namespace {

TEST(Synthetic, CpuIsThisHostWithoutGpus) {
  const System local = discoverLocal();
  const System s = makeSyntheticSystem("cpu");
  EXPECT_EQ(s.hostCount(), 1);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 0u);
  EXPECT_EQ(s.countNodes(NodeType::kCpu), local.countNodes(NodeType::kCpu));
  EXPECT_EQ(s.countNodes(NodeType::kNic), local.countNodes(NodeType::kNic));
  const System c = makeSyntheticSystem("cpu:x3");
  EXPECT_EQ(c.hostCount(), 3);
  EXPECT_EQ(c.countNodes(NodeType::kCpu), 3 * local.countNodes(NodeType::kCpu));
  if (local.countNodes(NodeType::kNic) > 0) {
    EXPECT_GE(c.countNodes(NodeType::kNetSwitch), 1u);
    PathFinder f(c);
    const auto nics = c.nodesOfType(NodeType::kNic);
    EXPECT_EQ(f.find(nics.front(), nics.back()).cls, PathClass::kNet);
  }
}

}  // namespace
}  // namespace plexus::topo
