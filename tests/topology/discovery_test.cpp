// Discovery: on this host (whatever it has, every optional source may be absent), on a fake
// sysfs tree with a PCIe switch holding a GPU and an RDMA NIC, from hand-made inventories (the
// NVML mapping), and the PLEXUS_TOPO_FILE / PLEXUS_TOPO_DUMP_FILE entry point.
#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "test_util.hpp"
#include "topology/describe.hpp"
#include "topology/discovery.hpp"
#include "topology/file_io.hpp"
#include "topology/inventory.hpp"
#include "topology/json_format.hpp"
#include "topology/paths.hpp"

namespace plexus::topo {
namespace {

namespace fs = std::filesystem;
using test::dataPath;
using test::nodeId;

std::set<int> allCpus(const System& s) {
  std::set<int> out;
  for (NodeId c : s.nodesOfType(NodeType::kCpu))
    for (int x : parseCpuList(s.node(c).cpuset)) out.insert(x);
  return out;
}

TEST(Discovery, ThisHost) {
  const System s = discoverLocal();
  ASSERT_EQ(s.hostCount(), 1);
  EXPECT_GE(s.countNodes(NodeType::kCpu), 1u);
  // Every CPU this process may run on belongs to a NUMA domain.
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const std::set<int> cpus = allCpus(s);
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) {
      EXPECT_TRUE(cpus.count(c)) << "cpu " << c;
    }
  int cores = 0;
  for (NodeId c : s.nodesOfType(NodeType::kCpu)) {
    EXPECT_GE(s.node(c).cores, 1);
    EXPECT_GE(s.node(c).threads, s.node(c).cores);
    cores += s.node(c).cores;
  }
  EXPECT_GE(cores, 1);
  // Every interface backed by a device is a NIC, with the speed and state sysfs reports.
  for (const auto& e : fs::directory_iterator("/sys/class/net")) {
    const std::string name = e.path().filename();
    if (!fs::exists(e.path() / "device") || name == "lo") continue;
    auto id = s.resolve(name);
    ASSERT_TRUE(id.has_value()) << "interface " << name << " missing";
    const Node& n = s.node(*id);
    EXPECT_EQ(n.type, NodeType::kNic);
    const long speed = std::strtol(readSysfsLine(e.path() / "speed").c_str(), nullptr, 10);
    if (speed > 0) {
      EXPECT_DOUBLE_EQ(n.speedGbps, speed / 1000.0) << name;
    } else {
      EXPECT_DOUBLE_EQ(n.speedGbps, 0.0) << name;
    }
    if (readSysfsLine(e.path() / "operstate") == "up") {
      EXPECT_TRUE(n.up) << name;
    }
    EXPECT_FALSE(n.busId.empty()) << name;
  }
  for (NodeId n : s.nodesOfType(NodeType::kNic)) EXPECT_NE(s.node(n).ifname, "lo");
  // Absent sources are said so, not hidden.
  if (s.countNodes(NodeType::kGpu) == 0) {
    bool nvmlNoted = false;
    for (const std::string& note : s.notes())
      nvmlNoted = nvmlNoted || note.find("NVML") != std::string::npos;
    EXPECT_TRUE(nvmlNoted);
  }
  const std::string d = describeLocal(s);
  EXPECT_NE(d.find("NUMA node"), std::string::npos) << d;
  EXPECT_NE(d.find("NICs:"), std::string::npos) << d;
  EXPECT_NE(d.find("GPUs:"), std::string::npos) << d;
}

TEST(Discovery, EverySourceOffStillGivesCpus) {
  DiscoveryOptions o;
  o.useHwloc = false;
  o.useIbverbs = false;
  o.useNvml = false;
  o.useNetInterfaces = false;
  const System s = discoverLocal(o);
  EXPECT_GE(s.countNodes(NodeType::kCpu), 1u);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 0u);
  EXPECT_EQ(allCpus(s), allCpus(discoverLocal()));
}

TEST(Discovery, HwlocAndSysfsAgree) {
  DiscoveryOptions noHwloc;
  noHwloc.useHwloc = false;
  const System a = discoverLocal();
  const System b = discoverLocal(noHwloc);
  EXPECT_EQ(allCpus(a), allCpus(b));
  EXPECT_EQ(a.countNodes(NodeType::kCpu), b.countNodes(NodeType::kCpu));
  auto busIds = [](const System& s, NodeType t) {
    std::set<std::string> out;
    for (NodeId n : s.nodesOfType(t)) out.insert(s.node(n).busId);
    return out;
  };
  for (NodeType t : {NodeType::kGpu, NodeType::kNic, NodeType::kPci})
    EXPECT_EQ(busIds(a, t), busIds(b, t)) << nodeTypeName(t);
}

TEST(Discovery, MissingSysfsNeverThrows) {
  DiscoveryOptions o;
  o.sysfsRoot = "/nonexistent-sysfs";
  o.useHwloc = false;
  o.useNvml = false;
  System s;
  ASSERT_NO_THROW(s = discoverLocal(o));
  EXPECT_EQ(s.countNodes(NodeType::kCpu), 1u);
  EXPECT_GE(s.node(0).threads, 1);
  bool noted = false;
  for (const std::string& n : s.notes())
    noted = noted || n.find("nonexistent-sysfs") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(Discovery, BridgeChains) {
  EXPECT_EQ(busIdsInPath("/sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0"),
            (std::vector<std::string>{"0000:00:03.0"}));
  EXPECT_EQ(busIdsInPath("/sys/devices/pci0000:16/0000:16:01.0/0000:17:00.0/0000:18:00.0"),
            (std::vector<std::string>{"0000:16:01.0", "0000:17:00.0", "0000:18:00.0"}));
  const std::vector<std::string> rp{"rp"}, sw{"rp", "usp", "dsp"};
  const std::vector<std::string> two{"rp", "usp", "dsp", "usp2", "dsp2"};
  EXPECT_TRUE(switchBridges({}).empty());
  EXPECT_TRUE(switchBridges(rp).empty());
  EXPECT_EQ(switchBridges(sw), (std::vector<std::string>{"usp"}));
  EXPECT_EQ(switchBridges(two), (std::vector<std::string>{"usp", "usp2"}));
}

// A fake sysfs: 2 NUMA nodes (4 CPUs each, one package each), a PCIe switch on NUMA 1 with a
// GPU and an InfiniBand NIC (mlx5_0 / ib0, 400 Gb/s), and a second NIC on a root port of NUMA 0.
class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/plexus-fake-sysfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    for (int node = 0; node < 2; ++node) {
      write("devices/system/node/node" + std::to_string(node) + "/cpulist",
            node == 0 ? "0-3" : "4-7");
      write("devices/system/node/node" + std::to_string(node) + "/meminfo",
            "Node " + std::to_string(node) + " MemTotal:       1048576 kB\n");
    }
    for (int cpu = 0; cpu < 8; ++cpu) {
      const std::string t = "devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      write(t + "physical_package_id", std::to_string(cpu / 4));
      write(t + "core_id", std::to_string(cpu % 2));  // 2 cores x 2 threads per package
    }
    const std::string rp = "devices/pci0000:80/0000:80:01.0";
    const std::string usp = rp + "/0000:81:00.0";
    const std::string dsp1 = usp + "/0000:82:00.0", dsp2 = usp + "/0000:82:01.0";
    const std::string gpu = dsp1 + "/0000:83:00.0", nic = dsp2 + "/0000:84:00.0";
    pci(rp, "0x060400", "0x8086", "1", "32.0 GT/s PCIe", "16");
    pci(usp, "0x060400", "0x1000", "1", "32.0 GT/s PCIe", "16");
    pci(dsp1, "0x060400", "0x1000", "1", "32.0 GT/s PCIe", "16");
    pci(dsp2, "0x060400", "0x1000", "1", "32.0 GT/s PCIe", "16");
    pci(gpu, "0x030200", "0x10de", "1", "32.0 GT/s PCIe", "16");
    pci(nic, "0x020700", "0x15b3", "1", "32.0 GT/s PCIe", "16");
    const std::string eth = "devices/pci0000:00/0000:00:02.0/0000:01:00.0";
    pci("devices/pci0000:00/0000:00:02.0", "0x060400", "0x8086", "0", "16.0 GT/s PCIe", "8");
    pci(eth, "0x020000", "0x8086", "0", "16.0 GT/s PCIe", "8");
    for (const std::string& d :
         {rp, usp, dsp1, dsp2, gpu, nic, eth, std::string("devices/pci0000:00/0000:00:02.0")})
      link("bus/pci/devices/" + fs::path(d).filename().string(), d);
    // Network interfaces.
    netif("ib0", nic, "up", "400000", "32");
    netif("eth1", eth, "down", "-1", "1");
    // RDMA device.
    link("class/infiniband/mlx5_0/device", nic);
    write("class/infiniband/mlx5_0/node_guid", "a088:c203:00aa:0001");
    write("class/infiniband/mlx5_0/ports/1/state", "4: ACTIVE");
    write("class/infiniband/mlx5_0/ports/1/rate", "400 Gb/sec (4X NDR)");
    write("class/infiniband/mlx5_0/ports/1/link_layer", "InfiniBand");
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& rel, const std::string& text) {
    const fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text << "\n";
  }
  void link(const std::string& rel, const std::string& targetRel) {
    const fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    fs::create_directory_symlink(fs::path(root_) / targetRel, p);
  }
  void pci(const std::string& dir, const char* cls, const char* vendor, const char* numa,
           const char* speed, const char* width) {
    write(dir + "/class", cls);
    write(dir + "/vendor", vendor);
    write(dir + "/device", "0x1234");
    write(dir + "/numa_node", numa);
    write(dir + "/current_link_speed", speed);
    write(dir + "/current_link_width", width);
  }
  void netif(const std::string& name, const std::string& devRel, const char* oper,
             const char* speed, const char* type) {
    const std::string d = "class/net/" + name;
    write(d + "/operstate", oper);
    write(d + "/speed", speed);
    write(d + "/type", type);
    write(d + "/flags", "0x1003");
    write(d + "/address", "00:11:22:33:44:55");
    write(d + "/mtu", "4092");
    write(d + "/dev_port", "0");
    link(d + "/device", devRel);
  }
  System discover() {
    DiscoveryOptions o;
    o.sysfsRoot = root_;
    o.useHwloc = false;
    o.useIbverbs = false;
    o.useNvml = false;
    return discoverLocal(o);
  }
  std::string root_;
};

TEST_F(FakeSysfs, CpusNumaAndPackages) {
  const System s = discover();
  ASSERT_EQ(s.countNodes(NodeType::kCpu), 2u);
  const Node& c1 = s.node(nodeId(s, "CPU1"));
  EXPECT_EQ(c1.cpuset, "4-7");
  EXPECT_EQ(c1.package, 1);
  EXPECT_EQ(c1.cores, 2);
  EXPECT_EQ(c1.threads, 4);
  EXPECT_EQ(c1.memoryBytes, 1024ull * 1024 * 1024);
  EXPECT_EQ(s.countLinks(LinkType::kCpuInterconnect), 1u);
}

TEST_F(FakeSysfs, SwitchGpuAndNics) {
  const System s = discover();
  ASSERT_EQ(s.countNodes(NodeType::kGpu), 1u);
  ASSERT_EQ(s.countNodes(NodeType::kNic), 2u);
  EXPECT_EQ(s.countNodes(NodeType::kPci), 1u);  // the switch; root and downstream ports fold in
  const Node& sw = s.node(nodeId(s, "PCI0"));
  EXPECT_EQ(sw.busId, "0000:81:00.0");
  const Node& gpu = s.node(nodeId(s, "GPU0"));
  EXPECT_EQ(gpu.busId, "0000:83:00.0");
  EXPECT_EQ(gpu.numa, 1);
  const Node& ib = s.node(*s.resolve("mlx5_0"));
  EXPECT_EQ(ib.ifname, "ib0");
  EXPECT_EQ(ib.port, 1);
  EXPECT_DOUBLE_EQ(ib.speedGbps, 400.0);
  EXPECT_TRUE(ib.up);
  EXPECT_EQ(ib.linkLayer, "InfiniBand");
  EXPECT_EQ(ib.guid, "a088:c203:00aa:0001");
  EXPECT_EQ(ib.busId, "0000:84:00.0");
  const Node& eth = s.node(*s.resolve("eth1"));
  EXPECT_FALSE(eth.up);
  EXPECT_DOUBLE_EQ(eth.speedGbps, 0.0);
  EXPECT_EQ(eth.numa, 0);
  PathFinder f(s);
  const Path gi = f.find(gpu.id, ib.id);
  EXPECT_EQ(gi.cls, PathClass::kPix);
  EXPECT_DOUBLE_EQ(gi.bw, 48.0);  // Gen5 x16
  EXPECT_EQ(f.find(gpu.id, eth.id).cls, PathClass::kSys);
  EXPECT_DOUBLE_EQ(f.find(nodeId(s, "CPU0"), eth.id).bw, 12.0);  // Gen4 x8
  bool pciOnly = false;
  for (const std::string& n : s.notes())
    pciOnly = pciOnly || n.find("PCI only") != std::string::npos;
  EXPECT_TRUE(pciOnly);
}

// The NVML part of discovery, fed by hand: 4 GPUs, 4 NVSwitch chips with 5/4/4/5 links each,
// a direct pair, and fabric ids.
TEST(Discovery, InventoryWithNvmlGpus) {
  Inventory inv;
  inv.hostname = "h";
  CpuDomain d;
  d.numa = 0;
  d.pus = {0, 1, 2, 3};
  d.cores = 4;
  inv.cpus.push_back(d);
  inv.haveCpus = true;
  inv.haveGpus = true;
  const int spread[4] = {5, 4, 4, 5};
  for (int g = 0; g < 4; ++g) {
    GpuInfo gi;
    gi.index = g;
    gi.busId = "0000:1" + std::to_string(g) + ":00.0";
    gi.sm = 90;
    gi.name = "H100";
    gi.fabricDomain = g < 2 ? "abcd/1" : "";
    int link = 0;
    for (int k = 0; k < 4; ++k)
      for (int x = 0; x < spread[k]; ++x)
        gi.nvlinks.push_back({link++, "0000:f" + std::to_string(k) + ":00.0", 2});
    inv.gpus.push_back(gi);
    PciDevice pd;
    pd.busId = gi.busId;
    pd.classCode = 0x030200;
    pd.vendor = 0x10de;
    pd.numa = 0;
    pd.linkGen = 5;
    pd.linkWidth = 16;
    inv.pci.push_back(pd);
  }
  const System s = buildFromInventory(inv);
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 4u);
  EXPECT_EQ(s.countNodes(NodeType::kNvSwitch), 4u);
  EXPECT_EQ(s.countLinks(LinkType::kNvLink), 16u);
  EXPECT_EQ(s.node(nodeId(s, "GPU0")).nvlinkDomain, "abcd/1");
  EXPECT_EQ(s.node(nodeId(s, "GPU3")).nvlinkDomain, "");
  const Path p = findPath(s, nodeId(s, "GPU0"), nodeId(s, "GPU3"));
  EXPECT_EQ(p.cls, PathClass::kNvl);
  EXPECT_EQ(p.nvlinks, 18);
  // A direct GPU pair reported from both ends becomes one link. (PCIe Gen4 here: with Gen5 x16,
  // 48 GB/s, the widest path between the pair would be PCIe rather than 2 NVLink4 links.)
  for (PciDevice& pd : inv.pci) pd.linkGen = 4;
  inv.gpus[0].nvlinks = {{0, "0000:11:00.0", 0}, {1, "0000:11:00.0", 0}};
  inv.gpus[1].nvlinks = {{0, "0000:10:00.0", -1}, {1, "0000:10:00.0", -1}};
  inv.gpus[2].nvlinks.clear();
  inv.gpus[3].nvlinks.clear();
  const System t = buildFromInventory(inv);
  EXPECT_EQ(t.countLinks(LinkType::kNvLink), 1u);
  const Path q = findPath(t, nodeId(t, "GPU0"), nodeId(t, "GPU1"));
  EXPECT_EQ(q.cls, PathClass::kNvl);
  EXPECT_EQ(q.nvlinks, 2);
}

TEST(Discovery, TopoFileReplacesDiscoveryAndDumpWritesIt) {
  char tmpl[] = "/tmp/plexus-topo-env-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dump = std::string(tmpl) + "/dump.json";
  setenv("PLEXUS_TOPO_FILE", dataPath("azure-ndv4-topo.xml").c_str(), 1);
  setenv("PLEXUS_TOPO_DUMP_FILE", dump.c_str(), 1);
  const System s = loadLocalSystem();
  unsetenv("PLEXUS_TOPO_FILE");
  unsetenv("PLEXUS_TOPO_DUMP_FILE");
  EXPECT_EQ(s.countNodes(NodeType::kGpu), 8u);
  EXPECT_EQ(exportJson(loadSystemFile(dump)), exportJson(s));
  // Dump of real discovery, as XML.
  const std::string xml = std::string(tmpl) + "/dump.xml";
  setenv("PLEXUS_TOPO_DUMP_FILE", xml.c_str(), 1);
  const System local = loadLocalSystem();
  unsetenv("PLEXUS_TOPO_DUMP_FILE");
  const System back = loadSystemFile(xml);
  EXPECT_EQ(back.countNodes(NodeType::kCpu), local.countNodes(NodeType::kCpu));
  EXPECT_EQ(back.countNodes(NodeType::kNic), local.countNodes(NodeType::kNic));
  // A bad file is an error naming it.
  setenv("PLEXUS_TOPO_FILE", "/nonexistent/topo.xml", 1);
  EXPECT_NE(test::errorOf([] { loadLocalSystem(); }).find("/nonexistent/topo.xml"),
            std::string::npos);
  unsetenv("PLEXUS_TOPO_FILE");
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace plexus::topo
