// Host summaries (choices, size, serialization, corruption) and the cluster view (hosts, local
// ranks, NVLink domains, PCIe switches, rails, ring order) on synthetic clusters.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "test_util.hpp"
#include "topology/cluster_view.hpp"
#include "topology/discovery.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/summary.hpp"
#include "topology/synthetic.hpp"

namespace plexus::topo {
namespace {

using test::dataPath;
using test::errorOf;

TEST(HostSummary, ThisHostIsSmall) {
  const System s = discoverLocal();
  const HostSummary h = summarizeLocal(s, 0);
  EXPECT_EQ(h.numaNodes, s.countNodes(NodeType::kCpu));
  EXPECT_GE(h.cores, 1u);
  const std::string bytes = h.serialize();
  if (s.countNodes(NodeType::kGpu) == 0) {
    EXPECT_EQ(h.gpuIndex, -1);
    EXPECT_EQ(h.nvlinkDomain, 0u);
    EXPECT_LT(bytes.size(), 300u) << "a CPU host's summary must stay small";
  }
  EXPECT_EQ(HostSummary::deserialize(bytes), h);
}

TEST(HostSummary, DgxH100Choices) {
  const System s = makeSyntheticSystem("dgx-h100");
  for (int lr = 0; lr < 8; ++lr) {
    const HostSummary h = summarizeLocal(s, lr);
    EXPECT_EQ(h.gpuIndex, lr);
    EXPECT_EQ(h.sm, 90);
    EXPECT_EQ(h.gpuCount, 8u);
    EXPECT_EQ(h.nicIndex, lr);  // the NIC on the GPU's own switch
    EXPECT_EQ(h.rail, lr);
    EXPECT_EQ(h.nicName, "mlx5_" + std::to_string(lr));
    EXPECT_FLOAT_EQ(h.nicGbps, 400.0f);
    EXPECT_EQ(h.numa, lr / 4);
    EXPECT_NE(h.nvlinkDomain, 0u);
    EXPECT_FALSE(h.nvlinkFabric);
    EXPECT_NE(h.pciSwitch, 0u);
    EXPECT_EQ(h.nics.size(), 8u);
    EXPECT_EQ(HostSummary::deserialize(h.serialize()), h);
  }
  EXPECT_EQ(summarizeLocal(s, 8).gpuIndex, 0);  // wraps around
  EXPECT_EQ(summarizeLocal(s, 0).nvlinkDomain, summarizeLocal(s, 5).nvlinkDomain);
  EXPECT_NE(summarizeLocal(s, 0).pciSwitch, summarizeLocal(s, 1).pciSwitch);
  EXPECT_EQ(summarizeHost(s, 0, 3, -1).gpuIndex, -1);  // forced CPU rank
  EXPECT_THROW(summarizeHost(s, 0, 0, 9), Error);
  EXPECT_THROW(summarizeHost(s, 1, 0), Error);
}

TEST(HostSummary, NicSpreadOverEqualNics) {
  // Azure ND A100 v4: two GPUs and two NICs under each bridge: GPU0->NIC0, GPU1->NIC1, ...
  const System az = loadSystemFile(dataPath("azure-ndv4-topo.xml"));
  for (int g = 0; g < 8; ++g) EXPECT_EQ(summarizeLocal(az, g).nicIndex, g) << g;
  // GB200 tray: GPU0 and GPU1 share Grace 0 with NIC0 and NIC1.
  const System gb = makeSyntheticSystem("gb200-nvl72");
  for (int g = 0; g < 4; ++g) {
    const HostSummary h = summarizeHost(gb, 5, g);
    EXPECT_EQ(h.nicIndex, g);
    EXPECT_TRUE(h.nvlinkFabric);
    EXPECT_EQ(h.nvlinkDomain, summarizeHost(gb, 0, 0).nvlinkDomain);
  }
}

TEST(HostSummary, CorruptBytesAreErrors) {
  const std::string good = summarizeLocal(makeSyntheticSystem("dgx-a100"), 2).serialize();
  EXPECT_NE(errorOf([] { HostSummary::deserialize(""); }).find("malformed"), std::string::npos);
  EXPECT_NE(errorOf([] { HostSummary::deserialize("XXXX\x01"); }).find("bad magic"),
            std::string::npos);
  for (size_t cut = 0; cut < good.size(); ++cut)
    EXPECT_THROW(HostSummary::deserialize(std::string_view(good).substr(0, cut)), Error) << cut;
  EXPECT_NE(errorOf([&] { HostSummary::deserialize(good + "x"); }).find("trailing"),
            std::string::npos);
  std::string v2 = good;
  v2[4] = 2;
  EXPECT_NE(errorOf([&] { HostSummary::deserialize(v2); }).find("unknown version"),
            std::string::npos);
}

// Summaries for every rank of a synthetic cluster, `perHost` ranks on each host.
std::vector<RankSummary> gather(const System& s, int perHost) {
  std::vector<RankSummary> out;
  for (int h = 0; h < s.hostCount(); ++h)
    for (int lr = 0; lr < perHost; ++lr) {
      RankSummary r;
      r.rank = h * perHost + lr;
      r.hostHash = 1000 + static_cast<uint64_t>(h);
      r.hostname = s.hosts()[static_cast<size_t>(h)].name;
      r.summary = summarizeHost(s, h, lr);
      out.push_back(RankSummary::deserialize(r.serialize()));
      EXPECT_EQ(out.back(), r);
    }
  return out;
}

TEST(ClusterView, DgxH100Cluster) {
  const System s = makeSyntheticSystem("dgx-h100:x2");
  const ClusterView v(gather(s, 8));
  EXPECT_EQ(v.nranks(), 16);
  EXPECT_EQ(v.nhosts(), 2);
  EXPECT_EQ(v.ranksOnHost(1), (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(v.hostOf(9), 1);
  EXPECT_EQ(v.localRank(9), 1);
  EXPECT_EQ(v.localSize(9), 8);
  EXPECT_EQ(v.hostName(1), "node01");
  EXPECT_TRUE(v.sameHost(0, 7));
  EXPECT_FALSE(v.sameHost(7, 8));
  EXPECT_TRUE(v.sameNvlinkDomain(0, 7));
  EXPECT_FALSE(v.sameNvlinkDomain(0, 8));  // host-local NVSwitch domains
  EXPECT_FALSE(v.samePciSwitch(0, 1));
  EXPECT_TRUE(v.sameRail(3, 11));
  EXPECT_FALSE(v.sameRail(3, 12));
  EXPECT_EQ(v.nvlinkDomains().size(), 2u);
  EXPECT_EQ(v.nvlinkDomains()[1].front(), 8);
  std::vector<int> expect(16);
  for (int i = 0; i < 16; ++i) expect[static_cast<size_t>(i)] = i;
  EXPECT_EQ(v.ringOrder(), expect);
  const std::string d = v.describe();
  EXPECT_NE(d.find("16 ranks on 2 hosts, 2 NVLink domain(s)"), std::string::npos) << d;
  EXPECT_NE(d.find("host 1 node01: ranks 8-15"), std::string::npos) << d;
}

TEST(ClusterView, NvlinkFabricSpansHosts) {
  const System s = makeSyntheticSystem("gb200-nvl72:x2");
  const ClusterView v(gather(s, 4));
  EXPECT_EQ(v.nhosts(), 36);
  EXPECT_TRUE(v.sameNvlinkDomain(0, 71));   // trays 0 and 17 of rack 0
  EXPECT_FALSE(v.sameNvlinkDomain(0, 72));  // rack 1
  EXPECT_EQ(v.nvlinkDomains().size(), 2u);
  EXPECT_EQ(v.nvlinkDomains()[0].size(), 72u);
  EXPECT_TRUE(v.sameRail(1, 73));
}

TEST(ClusterView, InterleavedRanksAndSharedSwitch) {
  // Ranks alternate between two hosts; hosts numbered by lowest rank; ring keeps hosts together.
  const System s = loadSystemFile(dataPath("aws-p4d-24xl-topo.xml"));
  std::vector<RankSummary> ranks;
  for (int r = 0; r < 6; ++r) {
    RankSummary x;
    x.rank = r;
    x.hostHash = (r % 2 == 0) ? 77 : 55;
    x.hostname = (r % 2 == 0) ? "a" : "b";
    x.summary = summarizeLocal(s, r / 2);
    ranks.push_back(x);
  }
  std::reverse(ranks.begin(), ranks.end());  // arrival order does not matter
  const ClusterView v(ranks);
  EXPECT_EQ(v.nhosts(), 2);
  EXPECT_EQ(v.hostOf(0), 0);
  EXPECT_EQ(v.hostOf(1), 1);
  EXPECT_EQ(v.hostName(0), "a");
  EXPECT_EQ(v.ranksOnHost(0), (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(v.ringOrder(), (std::vector<int>{0, 2, 4, 1, 3, 5}));
  EXPECT_EQ(v.localRank(4), 2);
  EXPECT_TRUE(v.samePciSwitch(0, 2));      // GPU0 and GPU1 share switch 0
  EXPECT_FALSE(v.samePciSwitch(0, 4));     // GPU2 is on switch 1
  EXPECT_FALSE(v.samePciSwitch(0, 1));     // other host
  EXPECT_FALSE(v.sameNvlinkDomain(0, 2));  // the file has no NVLink
}

TEST(ClusterView, RejectsBadRankSets) {
  RankSummary a;
  a.rank = 0;
  RankSummary b = a;
  EXPECT_NE(errorOf([&] { ClusterView({a, b}); }).find("rank 0 appears twice"), std::string::npos);
  b.rank = 5;
  EXPECT_NE(errorOf([&] { ClusterView({a, b}); }).find("out of range"), std::string::npos);
  EXPECT_THROW(ClusterView({}), Error);
  const ClusterView one({a});
  EXPECT_EQ(one.nhosts(), 1);
  EXPECT_THROW(one.hostOf(1), Error);
  EXPECT_FALSE(one.sameNvlinkDomain(0, 0));
  EXPECT_THROW(RankSummary::deserialize("short"), Error);
}

TEST(ClusterView, LocalRankSummary) {
  const System s = discoverLocal();
  const RankSummary r = makeRankSummary(3, 0, s);
  EXPECT_EQ(r.rank, 3);
  EXPECT_NE(r.hostHash, 0u);
  EXPECT_FALSE(r.hostname.empty());
  EXPECT_EQ(RankSummary::deserialize(r.serialize()), r);
}

}  // namespace
}  // namespace plexus::topo
