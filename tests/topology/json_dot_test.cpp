// Plexus JSON round trips (lossless for every kind of system) and errors; DOT export shape.
#include <gtest/gtest.h>

#include "test_util.hpp"
#include "topology/discovery.hpp"
#include "topology/dot_format.hpp"
#include "topology/json_format.hpp"
#include "topology/paths.hpp"
#include "topology/synthetic.hpp"

namespace plexus::topo {
namespace {

using test::dataPath;
using test::errorOf;

TEST(Json, RoundTripIsLossless) {
  std::vector<System> systems;
  systems.push_back(makeSyntheticSystem("dgx-h100:x2,nic=200,oversub=2"));
  systems.push_back(makeSyntheticSystem("gb200-nvl72"));
  systems.push_back(makeSyntheticSystem("dgx-a100"));
  systems.push_back(loadSystemFile(dataPath("nccl-dump-hgx4.xml")));
  systems.push_back(loadSystemFile(dataPath("azure-ndv4-topo.xml")));
  for (const System& s : systems) {
    SCOPED_TRACE(s.name());
    const std::string j1 = exportJson(s);
    const System back = importJson(j1, "rt.json");
    EXPECT_EQ(exportJson(back), j1);
    EXPECT_EQ(back.nodeCount(), s.nodeCount());
    EXPECT_EQ(back.linkCount(), s.linkCount());
    EXPECT_EQ(back.notes(), s.notes());
    PathFinder fa(s), fb(back);
    const auto ends = matrixEndpoints(s);
    const PathTable ta = fa.table(ends), tb = fb.table(ends);
    for (size_t i = 0; i < ta.size(); ++i)
      for (size_t j = 0; j < ta.size(); ++j) {
        EXPECT_EQ(ta.at(i, j).cls, tb.at(i, j).cls);
        EXPECT_EQ(ta.at(i, j).bw, tb.at(i, j).bw);
        EXPECT_EQ(ta.at(i, j).latencyUs, tb.at(i, j).latencyUs);
      }
  }
}

TEST(Json, ErrorsNameTheField) {
  EXPECT_NE(
      errorOf([] { importJson("{\"format\": 1", "x.json"); }).find("x.json:1: not valid JSON"),
      std::string::npos);
  EXPECT_NE(errorOf([] {
              importJson("{\n\"format\": \"other\"}", "x.json");
            }).find("x.json: format: expected \"plexus-topology\""),
            std::string::npos);
  const std::string base =
      "{\"format\":\"plexus-topology\",\"version\":1,\"name\":\"n\",\"hosts\":[{\"name\":\"h\"}],";
  EXPECT_NE(errorOf([&] {
              importJson(base + "\"nodes\":[{\"name\":\"A\",\"type\":\"toaster\"}],\"links\":[]}",
                         "x.json");
            }).find("nodes[0].type: unknown node type 'toaster'"),
            std::string::npos);
  EXPECT_NE(errorOf([&] {
              importJson(base +
                             "\"nodes\":[{\"name\":\"A\",\"type\":\"gpu\",\"sm\":\"x\"}],"
                             "\"links\":[]}",
                         "x.json");
            }).find("nodes[0].sm"),
            std::string::npos);
  EXPECT_NE(errorOf([&] {
              importJson(base +
                             "\"nodes\":[{\"name\":\"A\",\"type\":\"gpu\"}],\"links\":[{\"a\":"
                             "\"A\",\"b\":\"B\",\"type\":\"pcie\",\"bw\":1}]}",
                         "x.json");
            }).find("links[0].b: no node named 'B'"),
            std::string::npos);
  EXPECT_NE(errorOf([&] {
              importJson(base +
                             "\"nodes\":[{\"name\":\"A\",\"type\":\"gpu\"},{\"name\":\"B\","
                             "\"type\":\"gpu\"}],\"links\":[{\"a\":\"A\",\"b\":\"B\",\"type\":"
                             "\"pcie\",\"bw\":0}]}",
                         "x.json");
            }).find("links[0]"),
            std::string::npos);
  EXPECT_NE(
      errorOf([&] { importJson(base + "\"links\":[]}", "x.json"); }).find("missing \"nodes\""),
      std::string::npos);
  EXPECT_NE(errorOf([] {
              importJson("{\"format\":\"plexus-topology\",\"version\":7}", "x.json");
            }).find("version 7 is not supported"),
            std::string::npos);
}

TEST(Dot, ClustersNodesAndEdges) {
  const System s = makeSyntheticSystem("dgx-h100:x2");
  const std::string dot = exportDot(s);
  EXPECT_EQ(dot.rfind("graph \"dgx-h100:x2\" {", 0), 0u);
  EXPECT_NE(dot.find("subgraph \"cluster_0\""), std::string::npos);
  EXPECT_NE(dot.find("subgraph \"cluster_1\""), std::string::npos);
  EXPECT_NE(dot.find("\"node00/GPU0\" -- \"node00/NVS0\""), std::string::npos);
  EXPECT_NE(dot.find("NVLink4 x5, 103 GB/s"), std::string::npos);
  EXPECT_NE(dot.find("\"spine\" [shape=octagon"), std::string::npos);
  size_t edges = 0;
  for (size_t p = dot.find(" -- "); p != std::string::npos; p = dot.find(" -- ", p + 1)) ++edges;
  EXPECT_EQ(edges, s.linkCount() + 5);  // and the legend's five link kinds
  // Widths by bandwidth: an NVLink x5 edge is drawn wider than a PCIe one.
  EXPECT_NE(dot.find("cluster_legend"), std::string::npos);
  auto widthOf = [&](const std::string& label) {
    const size_t at = dot.find(label);
    const size_t pen = dot.rfind("penwidth=", at);
    return at == std::string::npos || pen == std::string::npos ? 0.0
                                                               : std::stod(dot.substr(pen + 9));
  };
  EXPECT_GT(widthOf("label=\"NVLink4 x5, 103 GB/s\""), widthOf("label=\"PCIe Gen5 x16, 48 GB/s\""));
  EXPECT_GT(widthOf("label=\"PCIe Gen5 x16, 48 GB/s\""), 0.0);
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
}

}  // namespace
}  // namespace plexus::topo
