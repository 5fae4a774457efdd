// NCCL XML: import of the vendors' partial files and of full dumps, classes that follow the PCI
// tree, stable export round trips, and clear errors for malformed files.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "test_util.hpp"
#include "topology/discovery.hpp"
#include "topology/file_io.hpp"
#include "topology/json_format.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/paths.hpp"
#include "topology/synthetic.hpp"
#include "topology/xml_tree.hpp"

namespace plexus::topo {
namespace {

using test::dataPath;
using test::errorOf;
using test::nodeId;

TEST(NcclXml, AzureNdv4PartialFile) {
  const System s = loadSystemFile(dataPath("azure-ndv4-topo.xml"));
  EXPECT_EQ(s.name(), "azure-ndv4-topo");
  EXPECT_EQ(s.hostCount(), 1);
  EXPECT_EQ(s.countNodes(NodeType::kCpu), 4u);
  EXPECT_EQ(s.countNodes(NodeType::kPci), 4u);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 8u);
  EXPECT_EQ(s.countNodes(NodeType::kNic), 8u);
  EXPECT_EQ(s.countLinks(LinkType::kCpuInterconnect), 6u);
  EXPECT_EQ(s.countLinks(LinkType::kPcie), 4u + 16u);
  EXPECT_EQ(s.countLinks(LinkType::kNvLink), 0u);
  // GPUs and NICs are numbered in bus id order: GPU0 = 0001:00:00.0 (NUMA 1).
  const Node& g0 = s.node(nodeId(s, "GPU0"));
  EXPECT_EQ(g0.busId, "0001:00:00.0");
  EXPECT_EQ(g0.numa, 1);
  EXPECT_EQ(g0.pciClass, 0x030200u);
  EXPECT_EQ(s.node(nodeId(s, "GPU7")).busId, "000e:00:00.0");
  EXPECT_EQ(s.node(nodeId(s, "NIC0")).busId, "0101:00:00.0");
  EXPECT_EQ(s.node(nodeId(s, "CPU1")).cpuset, "24-47");
  EXPECT_EQ(s.node(nodeId(s, "CPU3")).cpuset, "72-95");
  EXPECT_EQ(s.node(nodeId(s, "CPU0")).threads, 24);
  PathFinder f(s);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "GPU1")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC0")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC1")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "GPU2")).cls, PathClass::kSys);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC2")).cls, PathClass::kSys);
  EXPECT_EQ(f.find(nodeId(s, "GPU4"), nodeId(s, "NIC4")).cls, PathClass::kPix);
  EXPECT_DOUBLE_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC0")).bw, 24.0);  // Gen4 x16
  EXPECT_DOUBLE_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "GPU2")).bw, 16.0);  // AMD interconnect
  bool noted = false;
  for (const std::string& n : s.notes()) noted = noted || n.find("no NVLink") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(NcclXml, AwsP4dPartialFile) {
  const System s = loadSystemFile(dataPath("aws-p4d-24xl-topo.xml"));
  EXPECT_EQ(s.countNodes(NodeType::kCpu), 2u);
  EXPECT_EQ(s.countNodes(NodeType::kPci), 4u);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 8u);
  EXPECT_EQ(s.countNodes(NodeType::kNic), 4u);
  EXPECT_EQ(s.node(nodeId(s, "GPU0")).busId, "0000:10:1c.0");
  EXPECT_EQ(s.node(nodeId(s, "GPU3")).busId, "0000:20:1d.0");
  EXPECT_EQ(s.node(nodeId(s, "NIC2")).busId, "0000:90:1b.0");
  EXPECT_EQ(s.node(nodeId(s, "GPU0")).props.at("pci.vendor"), "0x10de");
  PathFinder f(s);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "GPU1")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC0")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "GPU2")).cls, PathClass::kPhb);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC1")).cls, PathClass::kPhb);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "GPU4")).cls, PathClass::kSys);
  EXPECT_DOUBLE_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC0")).bw, 12.0);  // Gen3 x16
  EXPECT_DOUBLE_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "GPU4")).bw, 10.0);  // Skylake UPI
}

TEST(NcclXml, FullDumpWithNvlinkAndNets) {
  const System s = loadSystemFile(dataPath("nccl-dump-hgx4.xml"));
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 4u);
  EXPECT_EQ(s.countNodes(NodeType::kNvSwitch), 2u);
  EXPECT_EQ(s.countNodes(NodeType::kNic), 4u);
  EXPECT_EQ(s.countLinks(LinkType::kNvLink), 9u);  // 4 GPUs x 2 chips + GPU0-GPU1 once
  const Node& g2 = s.node(nodeId(s, "GPU2"));
  EXPECT_EQ(g2.sm, 80);
  EXPECT_EQ(g2.props.at("gpu.rank"), "2");
  const Node& n1 = s.node(nodeId(s, "NIC1"));
  const Node& n2 = s.node(nodeId(s, "NIC2"));
  EXPECT_EQ(n1.rdmaDevice, "mlx5_1");
  EXPECT_EQ(n1.port, 1);
  EXPECT_EQ(n2.port, 2);
  EXPECT_EQ(n1.busId, n2.busId);
  EXPECT_DOUBLE_EQ(n1.speedGbps, 200.0);
  EXPECT_DOUBLE_EQ(n2.speedGbps, 100.0);
  EXPECT_EQ(n1.guid, "0x1c0c0a0003a1b2d0");
  const Node& eth = s.node(nodeId(s, "NIC3"));
  EXPECT_EQ(eth.ifname, "eth0");
  EXPECT_TRUE(eth.rdmaDevice.empty());
  EXPECT_TRUE(eth.busId.empty());
  EXPECT_DOUBLE_EQ(eth.speedGbps, 25.0);
  PathFinder f(s);
  const Path p01 = f.find(nodeId(s, "GPU0"), nodeId(s, "GPU1"));
  EXPECT_EQ(p01.cls, PathClass::kNvl);
  EXPECT_EQ(p01.nvlinks, 6);  // through both chips, wider than the direct pair of 2
  EXPECT_DOUBLE_EQ(p01.bw, 120.0);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "GPU3")).nvlinks, 6);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC0")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC3")).cls, PathClass::kPhb);
  EXPECT_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC1")).cls, PathClass::kSys);
  EXPECT_EQ(f.find(nodeId(s, "GPU2"), nodeId(s, "NIC2")).cls, PathClass::kPix);
  EXPECT_DOUBLE_EQ(f.find(nodeId(s, "GPU0"), nodeId(s, "NIC0")).bw, 24.0);
}

TEST(NcclXml, FullDumpWithC2C) {
  const System s = loadSystemFile(dataPath("nccl-dump-gb200-tray.xml"));
  EXPECT_EQ(s.countLinks(LinkType::kC2C), 2u);
  PathFinder f(s);
  const Path gc = f.find(nodeId(s, "GPU0"), nodeId(s, "CPU0"));
  EXPECT_EQ(gc.cls, PathClass::kC2C);
  EXPECT_DOUBLE_EQ(gc.bw, 360.0);
  const Path gg = f.find(nodeId(s, "GPU0"), nodeId(s, "GPU1"));
  EXPECT_EQ(gg.cls, PathClass::kNvl);
  EXPECT_EQ(gg.nvlinks, 18);
  EXPECT_EQ(f.find(nodeId(s, "GPU1"), nodeId(s, "NIC0")).cls, PathClass::kPhb);
  EXPECT_EQ(s.node(nodeId(s, "CPU0")).cpuset, "0-71");
}

// import(export(x)) exports the same text, for every input kind.
void expectStableRoundTrip(const System& original) {
  const std::string x1 = exportNcclXml(original);
  const System again = importNcclXml(x1, "roundtrip.xml");
  const std::string x2 = exportNcclXml(again);
  EXPECT_EQ(x1, x2) << original.name();
  const System third = importNcclXml(x2, "roundtrip.xml");
  EXPECT_EQ(exportJson(again), exportJson(third)) << original.name();
}

TEST(NcclXml, RoundTripOfFiles) {
  for (const char* f : {"azure-ndv4-topo.xml", "aws-p4d-24xl-topo.xml", "nccl-dump-hgx4.xml",
                        "nccl-dump-gb200-tray.xml"}) {
    SCOPED_TRACE(f);
    const System s = loadSystemFile(dataPath(f));
    expectStableRoundTrip(s);
    // The model survives: same counts and same classes.
    const System again = importNcclXml(exportNcclXml(s), "again.xml");
    EXPECT_EQ(again.nodeCount(), s.nodeCount());
    EXPECT_EQ(again.linkCount(), s.linkCount());
    PathFinder fa(s), fb(again);
    const PathTable ta = fa.table(matrixEndpoints(s));
    const PathTable tb = fb.table(matrixEndpoints(again));
    ASSERT_EQ(ta.size(), tb.size());
    for (size_t i = 0; i < ta.size(); ++i)
      for (size_t j = 0; j < ta.size(); ++j) {
        EXPECT_EQ(ta.at(i, j).cls, tb.at(i, j).cls);
        EXPECT_EQ(ta.at(i, j).nvlinks, tb.at(i, j).nvlinks);
        EXPECT_FLOAT_EQ(ta.at(i, j).bw, tb.at(i, j).bw);
      }
  }
}

TEST(NcclXml, PartialFileExportKeepsItPartial) {
  const System s = loadSystemFile(dataPath("azure-ndv4-topo.xml"));
  const std::string x = exportNcclXml(s);
  EXPECT_EQ(x.find("<gpu"), std::string::npos);
  EXPECT_EQ(x.find("<nic"), std::string::npos);
  EXPECT_NE(x.find("affinity=\"00000000,0000ffff,ff000000\""), std::string::npos);
  EXPECT_NE(x.find("link_speed=\"16 GT/s\""), std::string::npos);  // original text kept
}

TEST(NcclXml, RoundTripOfSyntheticSystems) {
  for (const char* name : {"dgx-h100", "dgx-a100", "gb200-nvl72"}) {
    SCOPED_TRACE(name);
    const System s = makeSyntheticSystem(name);
    expectStableRoundTrip(s);
  }
  const System h = importNcclXml(exportNcclXml(makeSyntheticSystem("dgx-h100")), "h100.xml");
  EXPECT_EQ(h.countNodes(NodeType::kNvSwitch), 4u);
  PathFinder f(h);
  EXPECT_EQ(f.find(nodeId(h, "GPU0"), nodeId(h, "GPU7")).nvlinks, 18);
  EXPECT_EQ(f.find(nodeId(h, "GPU0"), nodeId(h, "NIC0")).cls, PathClass::kPix);
  EXPECT_EQ(f.find(nodeId(h, "GPU0"), nodeId(h, "NIC4")).cls, PathClass::kSys);
  EXPECT_EQ(h.node(nodeId(h, "NIC5")).rdmaDevice, "mlx5_5");
  EXPECT_DOUBLE_EQ(h.node(nodeId(h, "NIC5")).speedGbps, 400.0);
  EXPECT_EQ(h.node(nodeId(h, "CPU1")).cpuset, "56-111,168-223");
}

TEST(NcclXml, ExportOfMissingHostFails) {
  const System s = makeSyntheticSystem("dgx-h100");
  EXPECT_NE(errorOf([&] { exportNcclXml(s, 3); }).find("no host 3"), std::string::npos);
}

// Malformed files: the message names the file, the line and the element.
struct Bad {
  const char* text;
  const char* expect1;
  const char* expect2;
};

TEST(NcclXml, MalformedFilesGiveClearErrors) {
  const Bad cases[] = {
      {"<system>\n  <cpu numaid=\"0\">\n</system>\n", "bad.xml:3: closing tag </system>",
       "does not match the element open there (the last element opened is <cpu> on line 2)"},
      {"<system>\n<cpu numaid=\"0\">\n<pci busid=\"zz\" class=\"0x060400\"/>\n</cpu>\n</system>",
       "bad.xml:3: <pci>", "busid='zz' is not a PCI address"},
      {"<system>\n<cpu numaid=\"0\">\n<pci busid=\"0000:01:00.0\" class=\"0xZZ\"/>\n</cpu>\n"
       "</system>",
       "bad.xml:3: <pci>", "class='0xZZ' is not an integer"},
      {"<system>\n<gpu dev=\"0\"/>\n</system>", "bad.xml:2: <gpu>",
       "unexpected element inside <system>"},
      {"<system>\n<cpu numaid=0>\n</cpu>\n</system>", "bad.xml:2: malformed attribute (in <cpu>",
       "the value must be quoted"},
      {"<system>\n<cpu numaid=\"0\">\n<pci busid=\"0000:01:00.0\" class=\"0x030200\"/>\n"
       "<pci busid=\"0000:01:00.0\" class=\"0x030200\"/>\n</cpu>\n</system>",
       "bad.xml:4: <pci>", "busid 0000:01:00.0 appears twice"},
      {"<system>\n<cpu numaid=\"0\">\n<pci busid=\"0000:01:00.0\" class=\"0x030200\">\n"
       "<gpu dev=\"0\" sm=\"80\">\n<nvlink target=\"0000:02:00.0\" count=\"0\"/>\n</gpu>\n</pci>\n"
       "</cpu>\n</system>",
       "bad.xml:5: <nvlink>", "count must be 1 to 1024"},
      {"<system>\n<cpu numaid=\"0\">\n<pci busid=\"0000:01:00.0\" class=\"0x060400\" "
       "link_speed=\"7 GT/s\"/>\n</cpu>\n</system>",
       "bad.xml:3: <pci>", "link_speed='7 GT/s' is not a PCIe rate"},
      {"<topology/>", "bad.xml:1: <topology>", "expected <system>"},
      {"<system>\n<cpu numaid=\"0\" numaid=\"1\"/>\n</system>", "bad.xml:2",
       "attribute 'numaid' repeated"},
      {"<system>\n<cpu numaid=\"0\">\n<nic>\n<net dev=\"0\"/>\n</nic>\n</cpu>\n</system>",
       "bad.xml:4: <net>", "missing attribute name"},
      {"<system>\n  <!-- never closed\n", "bad.xml:2", "unterminated or malformed comment"},
      {"<system>\n<cpu numaid=\"0\">\n", "bad.xml:2",
       "the file ends before every element is closed (the last element opened is <cpu> on line 2)"},
      {"<system/>\n<system/>\n", "bad.xml:2", "a second root element <system> after <system>"},
      {"<system/>\ntrailing\n", "bad.xml:2", "text outside the root element"},
      {"<system>\n<cpu><![CDATA[x]]></cpu>\n</system>", "bad.xml:2", "CDATA sections are not"},
      {"<system>\n<cpu numaid=\"0\">\n<1pci/>\n</cpu>\n</system>", "bad.xml:3",
       "'<' is not followed by an element name"},
      {"<system>\n<cpu numaid=\"0\" \n", "bad.xml:", "malformed start tag (in <cpu> on line 2)"},
      {"<system>\n<cpu numaid=\"0\">text</cpu>\n</system>", "bad.xml:2",
       "unexpected text inside <cpu>"},
      {"", "bad.xml:1", "no XML element"},
      {"<system>\n<cpu numaid=\"0\" affinity=\"nothex\"/>\n</system>", "bad.xml:2: <cpu>",
       "CPU mask 'nothex' is malformed"},
      {"<system>\n<cpu numaid=\"0\"/>\n<cpu numaid=\"0\"/>\n</system>", "bad.xml:3: <cpu>",
       "numaid 0 appears twice"},
  };
  for (const Bad& b : cases) {
    const std::string msg = errorOf([&] { importNcclXml(b.text, "bad.xml"); });
    EXPECT_NE(msg.find(b.expect1), std::string::npos) << "got: " << msg;
    EXPECT_NE(msg.find(b.expect2), std::string::npos) << "got: " << msg;
  }
}

TEST(NcclXml, EntitiesAndDeclarations) {
  const XmlElement e = parseXml(
      "<?xml version=\"1.0\"?>\n<!-- c -->\n<a x=\"1 &lt; 2 &amp; &#x41;&#66;\" y='q\"'>"
      "<b/><!-- c2 --><c></c></a>\n",
      "e.xml");
  EXPECT_EQ(e.name, "a");
  EXPECT_EQ(*e.attr("x"), "1 < 2 & AB");
  EXPECT_EQ(*e.attr("y"), "q\"");
  ASSERT_EQ(e.children.size(), 2u);
  EXPECT_EQ(e.children[1].name, "c");
  EXPECT_EQ(writeXml(e), "<a x=\"1 &lt; 2 &amp; AB\" y=\"q&quot;\">\n  <b/>\n  <c/>\n</a>\n");
  // Empty elements close with "/>" as in NCCL's dumps; values that look like markup survive.
  XmlElement odd;
  odd.name = "a";
  odd.set("v", "x />\ny <z/> \"q\" & 'p'");
  odd.children.push_back(XmlElement{"b", {{"w", " />"}}, {}, 0});
  const std::string text = writeXml(odd);
  EXPECT_EQ(text.find(" />\n"), std::string::npos) << text;
  const XmlElement back = parseXml(text, "odd.xml");
  EXPECT_EQ(*back.attr("v"), *odd.attr("v"));
  ASSERT_EQ(back.children.size(), 1u);
  EXPECT_EQ(*back.children[0].attr("w"), " />");
  // pugixml keeps an entity it does not know as written (the old reader rejected it); the NCCL
  // import then checks the value like any other.
  EXPECT_EQ(*parseXml("<a x=\"&bogus;\"/>", "e.xml").attr("x"), "&bogus;");
  EXPECT_NE(errorOf([] { parseXml("<!DOCTYPE x><a/>", "e.xml"); }).find("DOCTYPE"),
            std::string::npos);
}

TEST(NcclXml, DeepNestingIsAnErrorNotACrash) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<pci>";
  const std::string msg = errorOf([&] { importNcclXml(deep, "deep.xml"); });
  EXPECT_NE(msg.find("deep.xml:1: "), std::string::npos) << msg;
  std::string closed;
  for (int i = 0; i < 300; ++i) closed += "<a>";
  for (int i = 0; i < 300; ++i) closed += "</a>";
  EXPECT_NE(errorOf([&] { parseXml(closed, "deep.xml"); }).find("nested deeper than 256 levels"),
            std::string::npos);
}

// Every cut and many single-byte changes of a real file either import or fail with an error
// that names the file and a line: never a crash, never another exception.
TEST(NcclXml, DamagedFilesFailCleanly) {
  const std::string text = readTextFile(dataPath("nccl-dump-hgx4.xml"));
  auto check = [](const std::string& damaged) {
    try {
      importNcclXml(damaged, "damaged.xml");
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find("damaged.xml:"), 0u) << e.what();
    }
  };
  for (size_t cut = 0; cut < text.size(); cut += 3) check(text.substr(0, cut));
  const char replacements[] = {'<', '>', '"', '/', '&', '=', ' ', 'x', '\0', '!', '?'};
  uint32_t seed = 12345;
  for (int i = 0; i < 3000; ++i) {
    seed = seed * 1103515245u + 12345u;
    std::string damaged = text;
    damaged[(seed >> 8) % damaged.size()] = replacements[(seed >> 20) % sizeof replacements];
    check(damaged);
  }
}

TEST(SystemFile, ErrorsNameTheFile) {
  const std::string missing = "/nonexistent/dir/topo.xml";
  const std::string msg = errorOf([&] { loadSystemFile(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  char tmpl[] = "/tmp/plexus-topo-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  writeTextFile(dir + "/junk.txt", "hello");
  EXPECT_NE(errorOf([&] { loadSystemFile(dir + "/junk.txt"); }).find("not a topology file"),
            std::string::npos);
  writeTextFile(dir + "/empty.xml", "  \n");
  EXPECT_NE(errorOf([&] { loadSystemFile(dir + "/empty.xml"); }).find("empty"), std::string::npos);
  // Save and load both formats.
  const System s = makeSyntheticSystem("dgx-a100");
  saveSystemFile(s, dir + "/a.json");
  saveSystemFile(s, dir + "/a.xml");
  EXPECT_EQ(exportJson(loadSystemFile(dir + "/a.json")), exportJson(s));
  EXPECT_EQ(loadSystemFile(dir + "/a.xml").countNodes(NodeType::kGpu), 8u);
  for (const char* f : {"/junk.txt", "/empty.xml", "/a.json", "/a.xml"})
    std::remove((dir + f).c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace plexus::topo
