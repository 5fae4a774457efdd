// Paths on hand-made graphs: widest path, least latency among the widest (including the case a
// single lexicographic Dijkstra gets wrong), hop lists, class rules, routing restrictions.
#include <gtest/gtest.h>

#include "topology/link_constants.hpp"
#include "topology/paths.hpp"

namespace plexus::topo {
namespace {

class HandMade : public ::testing::Test {
 protected:
  HandMade() : s_("hand") { s_.addHost("h"); }
  NodeId add(NodeType t, const std::string& name) {
    Node n;
    n.type = t;
    n.name = name;
    n.host = 0;
    return s_.addNode(n);
  }
  void link(NodeId a, NodeId b, double bw, double lat, LinkType t = LinkType::kPcie,
            int count = 1) {
    Link l;
    l.a = a;
    l.b = b;
    l.type = t;
    l.bw = bw;
    l.latencyUs = lat;
    l.count = count;
    s_.addLink(l);
  }
  std::vector<std::string> hopNames(const Path& p) {
    std::vector<std::string> v;
    for (const PathHop& h : p.hops) v.push_back(h.name);
    return v;
  }
  System s_;
};

TEST_F(HandMade, WidestPathWinsOverShorter) {
  const NodeId a = add(NodeType::kPci, "A"), b = add(NodeType::kPci, "B");
  const NodeId c = add(NodeType::kPci, "C"), d = add(NodeType::kPci, "D");
  link(a, b, 10, 1.0);
  link(b, d, 10, 1.0);
  link(a, c, 50, 0.1);
  link(c, d, 5, 0.1);
  const Path p = findPath(s_, a, d);
  EXPECT_DOUBLE_EQ(p.bw, 10.0);
  EXPECT_NEAR(p.latencyUs, 2.0, 1e-9);
  EXPECT_EQ(hopNames(p), (std::vector<std::string>{"A", "B", "D"}));
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_DOUBLE_EQ(p.steps[0].bw, 10.0);
}

TEST_F(HandMade, LeastLatencyAmongWidest) {
  const NodeId a = add(NodeType::kPci, "A"), b = add(NodeType::kPci, "B");
  const NodeId c = add(NodeType::kPci, "C"), d = add(NodeType::kPci, "D");
  link(a, b, 20, 0.5);
  link(b, d, 20, 0.5);
  link(a, c, 20, 0.25);
  link(c, d, 30, 0.25);
  const Path p = findPath(s_, a, d);
  EXPECT_DOUBLE_EQ(p.bw, 20.0);
  EXPECT_NEAR(p.latencyUs, 0.5, 1e-9);
  EXPECT_EQ(hopNames(p), (std::vector<std::string>{"A", "C", "D"}));
}

// Two ways to X: wide but slow (100 GB/s, 5 µs) and narrow but fast (20 GB/s, 1 µs); X-T is
// 10 GB/s. Both give T a bottleneck of 10, so the fast one must win. A single Dijkstra over
// (bandwidth, latency) keeps only the wide label at X and would answer 5 µs.
TEST_F(HandMade, ExactWhereLexicographicDijkstraFails) {
  const NodeId a = add(NodeType::kPci, "A"), w = add(NodeType::kPci, "W");
  const NodeId f = add(NodeType::kPci, "F"), x = add(NodeType::kPci, "X");
  const NodeId t = add(NodeType::kPci, "T");
  link(a, w, 100, 2.5);
  link(w, x, 100, 2.5);
  link(a, f, 20, 0.5);
  link(f, x, 20, 0.5);
  link(x, t, 10, 1.0);
  const Path p = findPath(s_, a, t);
  EXPECT_DOUBLE_EQ(p.bw, 10.0);
  EXPECT_NEAR(p.latencyUs, 2.0, 1e-9);
  EXPECT_EQ(hopNames(p), (std::vector<std::string>{"A", "F", "X", "T"}));
  // The table gives the same answer.
  PathFinder finder(s_);
  const PathTable tab = finder.table({a, t, x});
  EXPECT_FLOAT_EQ(tab.at(0, 1).latencyUs, 2.0f);
  EXPECT_FLOAT_EQ(tab.at(1, 0).bw, 10.0f);
  EXPECT_FLOAT_EQ(tab.at(0, 2).bw, 100.0f);
  EXPECT_FLOAT_EQ(tab.at(0, 2).latencyUs, 5.0f);
  EXPECT_EQ(tab.at(2, 2).cls, PathClass::kLoc);
}

TEST_F(HandMade, DisconnectedIsDis) {
  const NodeId a = add(NodeType::kPci, "A"), b = add(NodeType::kPci, "B");
  const Path p = findPath(s_, a, b);
  EXPECT_EQ(p.cls, PathClass::kDis);
  EXPECT_FALSE(p.connected());
  PathFinder finder(s_);
  EXPECT_EQ(finder.table({a, b}).at(0, 1).cls, PathClass::kDis);
  EXPECT_EQ(findPath(s_, a, a).cls, PathClass::kLoc);
}

TEST_F(HandMade, PciClasses) {
  const NodeId cpu0 = add(NodeType::kCpu, "CPU0"), cpu1 = add(NodeType::kCpu, "CPU1");
  const NodeId up = add(NodeType::kPci, "UP"), sw1 = add(NodeType::kPci, "SW1");
  const NodeId sw2 = add(NodeType::kPci, "SW2"), sw3 = add(NodeType::kPci, "SW3");
  const NodeId g0 = add(NodeType::kGpu, "GPU0"), g1 = add(NodeType::kGpu, "GPU1");
  const NodeId g2 = add(NodeType::kGpu, "GPU2"), g3 = add(NodeType::kGpu, "GPU3");
  const NodeId g4 = add(NodeType::kGpu, "GPU4");
  s_.addLink(makeCpuLink(cpu0, cpu1, 16));
  s_.addLink(makePcie(cpu0, up, 4, 16));
  s_.addLink(makePcie(up, sw1, 4, 16));
  s_.addLink(makePcie(up, sw2, 4, 16));
  s_.addLink(makePcie(sw1, g0, 4, 16));
  s_.addLink(makePcie(sw1, g1, 4, 16));
  s_.addLink(makePcie(sw2, g2, 4, 16));
  s_.addLink(makePcie(cpu0, sw3, 4, 16));
  s_.addLink(makePcie(sw3, g3, 4, 16));
  s_.addLink(makePcie(cpu1, g4, 4, 16));
  PathFinder f(s_);
  EXPECT_EQ(f.find(g0, g1).cls, PathClass::kPix);
  EXPECT_EQ(f.find(g0, g2).cls, PathClass::kPxb);
  EXPECT_EQ(f.find(g0, g3).cls, PathClass::kPhb);
  EXPECT_EQ(f.find(g0, g4).cls, PathClass::kSys);
  EXPECT_EQ(f.find(g0, cpu0).cls, PathClass::kPhb);
  EXPECT_DOUBLE_EQ(f.find(g0, g4).bw, 16.0);
  EXPECT_EQ(f.find(g0, g2).hops.size(), 5u);
}

TEST_F(HandMade, GpusAreNotPcieRouters) {
  // GPU1 sits between two PCIe links: no path crosses it.
  const NodeId s1 = add(NodeType::kPci, "S1"), s2 = add(NodeType::kPci, "S2");
  const NodeId g0 = add(NodeType::kGpu, "GPU0"), g1 = add(NodeType::kGpu, "GPU1");
  const NodeId g2 = add(NodeType::kGpu, "GPU2");
  s_.addLink(makePcie(g0, s1, 4, 16));
  s_.addLink(makePcie(s1, g1, 4, 16));
  s_.addLink(makePcie(g1, s2, 4, 16));
  s_.addLink(makePcie(s2, g2, 4, 16));
  EXPECT_EQ(findPath(s_, g0, g2).cls, PathClass::kDis);
  EXPECT_EQ(findPath(s_, g0, g1).cls, PathClass::kPix);
}

TEST_F(HandMade, NvlinkDirectAndThroughGpu) {
  const NodeId g0 = add(NodeType::kGpu, "GPU0"), g1 = add(NodeType::kGpu, "GPU1");
  const NodeId g2 = add(NodeType::kGpu, "GPU2");
  s_.addLink(makeNvlink(g0, g1, 2, 2));
  s_.addLink(makeNvlink(g1, g2, 2, 1));
  const Path p01 = findPath(s_, g0, g1);
  EXPECT_EQ(p01.cls, PathClass::kNvl);
  EXPECT_EQ(p01.nvlinks, 2);
  EXPECT_DOUBLE_EQ(p01.bw, 40.0);
  const Path p02 = findPath(s_, g0, g2);
  EXPECT_EQ(p02.cls, PathClass::kNvb);
  EXPECT_EQ(p02.nvlinks, 1);
  EXPECT_DOUBLE_EQ(p02.bw, 20.0);
  EXPECT_EQ(hopNames(p02), (std::vector<std::string>{"GPU0", "GPU1", "GPU2"}));
}

TEST_F(HandMade, NvswitchChipsAggregate) {
  // Two GPUs, three chips with 3/2/1 links: the pair has 6 NVLinks, not the 3 of one chip.
  const NodeId g0 = add(NodeType::kGpu, "GPU0"), g1 = add(NodeType::kGpu, "GPU1");
  const int counts[3] = {3, 2, 1};
  for (int k = 0; k < 3; ++k) {
    Node n;
    n.type = NodeType::kNvSwitch;
    n.name = "NVS" + std::to_string(k);
    n.host = 0;
    n.tier = 1;
    n.group = 0;
    const NodeId nvs = s_.addNode(n);
    s_.addLink(makeNvlink(g0, nvs, 4, counts[k]));
    s_.addLink(makeNvlink(g1, nvs, 4, counts[k]));
  }
  const Path p = findPath(s_, g0, g1);
  EXPECT_EQ(p.cls, PathClass::kNvl);
  EXPECT_EQ(p.nvlinks, 6);
  EXPECT_NEAR(p.bw, 6 * 20.6, 1e-4);
  ASSERT_EQ(p.hops.size(), 3u);
  EXPECT_EQ(p.hops[1].members, 3);
  EXPECT_EQ(p.hops[1].name, "NVS0..NVS2");
  EXPECT_EQ(p.steps[0].count, 6);
}

TEST(Network, EnteredOnceAndNeverWithinAHost) {
  // Host A's NIC reaches host B's NIC0 over the network; B's NIC0 must not route on through
  // B's PCIe to B's NIC1 and back into the network to reach C. B's two NICs talk over PCIe only.
  System s("net");
  for (const char* h : {"A", "B", "C"}) s.addHost(h);
  auto add = [&](NodeType t, const std::string& name, int host) {
    Node n;
    n.type = t;
    n.name = name;
    n.host = host;
    return s.addNode(n);
  };
  const NodeId nicA = add(NodeType::kNic, "A/NIC0", 0);
  const NodeId b0 = add(NodeType::kNic, "B/NIC0", 1), b1 = add(NodeType::kNic, "B/NIC1", 1);
  const NodeId bsw = add(NodeType::kPci, "B/PCI0", 1);
  const NodeId nicC = add(NodeType::kNic, "C/NIC1", 2);
  const NodeId leaf0 = add(NodeType::kNetSwitch, "leaf0", -1);
  const NodeId leaf1 = add(NodeType::kNetSwitch, "leaf1", -1);
  s.addLink(makeNetwork(nicA, leaf0, 400));
  s.addLink(makeNetwork(b0, leaf0, 400));
  s.addLink(makeNetwork(b1, leaf1, 400));
  s.addLink(makeNetwork(nicC, leaf1, 400));
  s.addLink(makePcie(bsw, b0, 5, 16));
  s.addLink(makePcie(bsw, b1, 5, 16));
  PathFinder f(s);
  EXPECT_EQ(f.find(nicA, nicC).cls, PathClass::kDis);
  const Path ab = f.find(nicA, b1);  // into B through NIC0, then B's PCIe: allowed
  EXPECT_EQ(ab.cls, PathClass::kNet);
  EXPECT_EQ(ab.hops.size(), 5u);
  const Path bb = f.find(b0, b1);
  EXPECT_EQ(bb.cls, PathClass::kPix);
  // Without the PCIe switch B's NICs would only meet through the network: not allowed.
  const PathTable t = f.table({nicA, b0, b1, nicC});
  EXPECT_EQ(t.at(0, 3).cls, PathClass::kDis);
  EXPECT_EQ(t.at(1, 2).cls, PathClass::kPix);
  EXPECT_EQ(t.at(0, 1).cls, PathClass::kNet);
  EXPECT_EQ(t.at(0, 1).hops, 2);
}

TEST(PathClassNames, RoundTrip) {
  for (int i = 0; i <= static_cast<int>(PathClass::kDis); ++i) {
    const auto c = static_cast<PathClass>(i);
    EXPECT_EQ(parsePathClass(pathClassName(c)), c);
    EXPECT_STRNE(pathClassMeaning(c), "?");
  }
  EXPECT_FALSE(parsePathClass("NODE").has_value());
}

}  // namespace
}  // namespace plexus::topo
