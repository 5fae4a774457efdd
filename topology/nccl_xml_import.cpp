// NCCL topology XML import: the element tree (read by pugixml, xml_tree.hpp) → System.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "base/error.hpp"
#include "topology/file_io.hpp"
#include "topology/link_constants.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/xml_tree.hpp"

namespace plexus::topo {
namespace {

enum class PciKind { kBridge, kGpu, kNic, kNvSwitch };

bool isNvidiaGpuClass(uint32_t cls, const std::string* vendor) {
  if ((cls >> 8) == 0x0302) return true;  // 3D controller
  if ((cls >> 16) == 0x03 && vendor && (*vendor == "0x10de" || *vendor == "0x10DE")) return true;
  return false;
}

// RDMA device names (mlx5_0, irdma0, bnxt_re0, efa_0, hfi1_0, qedr0, rxe0, erdma_0, ...) as
// opposed to netdev names (eth0, ens1f0, ib0).
bool looksLikeRdmaDevice(const std::string& name) {
  for (const char* p : {"mlx", "irdma", "bnxt_re", "efa", "hfi", "qedr", "rxe", "siw", "erdma",
                        "ionic", "cxgb", "ocrdma", "vmw_pvrdma", "hns"})
    if (name.rfind(p, 0) == 0) return true;
  return name.find('_') != std::string::npos;
}

class Importer {
 public:
  Importer(const std::string& origin) : origin_(origin) {}

  System run(const XmlElement& root) {
    if (root.name != "system")
      fail(root, "the root element is <" + root.name + ">, expected <system>");
    sys_.setName(fileStem(origin_));
    sys_.setSource("NCCL XML " + origin_);
    sys_.addHost(fileStem(origin_));
    if (const std::string* v = root.attr("version")) sys_.addNote("NCCL XML version " + *v);
    prescan(root);
    assignIndices();
    for (const XmlElement& el : root.children) {
      if (el.name == "cpu") {
        cpu(el);
      } else {
        fail(el, "unexpected element inside <system> (expected <cpu>)");
      }
    }
    addCpuLinks();
    resolveNvlinks();
    if (sys_.countNodes(NodeType::kGpu) > 0 && sys_.countLinks(LinkType::kNvLink) == 0)
      sys_.addNote("no NVLink information in the file (NCCL would detect it at run time)");
    return std::move(sys_);
  }

 private:
  [[noreturn]] void fail(const XmlElement& el, const std::string& what) const {
    throwError(ErrorCode::kInvalidArgument, "%s:%d: <%s>: %s", origin_.c_str(), el.line,
               el.name.c_str(), what.c_str());
  }

  // Integer attribute (decimal or 0x hex); nullopt when absent.
  std::optional<long long> integer(const XmlElement& el, const char* key) const {
    const std::string* v = el.attr(key);
    if (!v) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const long long x = std::strtoll(v->c_str(), &end, 0);
    if (v->empty() || end == v->c_str() || *end != '\0' || errno == ERANGE)
      fail(el, std::string("attribute ") + key + "='" + *v + "' is not an integer");
    return x;
  }
  std::optional<double> number(const XmlElement& el, const char* key) const {
    const std::string* v = el.attr(key);
    if (!v) return std::nullopt;
    char* end = nullptr;
    const double x = std::strtod(v->c_str(), &end);
    if (v->empty() || end == v->c_str() || *end != '\0' || !std::isfinite(x))
      fail(el, std::string("attribute ") + key + "='" + *v + "' is not a number");
    return x;
  }
  std::string busIdOf(const XmlElement& el) const {
    const std::string* v = el.attr("busid");
    if (!v) fail(el, "missing attribute busid");
    const std::string b = canonicalBusId(*v);
    if (b.size() != 12 || b[4] != ':' || b[7] != ':' || b[10] != '.')
      fail(el, "busid='" + *v + "' is not a PCI address (expected dddd:bb:dd.f)");
    return b;
  }
  uint32_t classOf(const XmlElement& el) const {
    auto c = integer(el, "class");
    if (!c) return 0;
    if (*c < 0 || *c > 0xFFFFFF) fail(el, "attribute class is not a 24-bit PCI class code");
    return static_cast<uint32_t>(*c);
  }
  static const XmlElement* child(const XmlElement& el, const char* name) {
    for (const XmlElement& c : el.children)
      if (c.name == name) return &c;
    return nullptr;
  }
  PciKind kindOf(const XmlElement& el) const {
    const uint32_t cls = classOf(el);
    if (child(el, "gpu")) return PciKind::kGpu;
    if (child(el, "nic")) return PciKind::kNic;
    if (isNvidiaGpuClass(cls, el.attr("vendor"))) return PciKind::kGpu;
    if ((cls >> 16) == 0x02) return PciKind::kNic;
    const std::string* vendor = el.attr("vendor");
    if ((cls >> 8) == 0x0680 && vendor && (*vendor == "0x10de" || *vendor == "0x10DE"))
      return PciKind::kNvSwitch;
    return PciKind::kBridge;
  }
  // Keeps attributes not in `modelled` as props "<element>.<attr>".
  static void keepOthers(Node& n, const XmlElement& el,
                         std::initializer_list<const char*> modelled) {
    for (const auto& [k, v] : el.attrs) {
      bool known = false;
      for (const char* m : modelled) known = known || k == m;
      if (!known) n.props[el.name + "." + k] = v;
    }
  }

  // Pass 1: indices of GPUs and NICs.
  void prescan(const XmlElement& el) {
    for (const XmlElement& c : el.children) {
      if (c.name == "pci") {
        const std::string bus = busIdOf(c);
        if (!busIds_.insert(bus).second) fail(c, "busid " + bus + " appears twice");
        const PciKind kind = kindOf(c);
        if (kind == PciKind::kGpu) {
          std::optional<long long> dev;
          if (const XmlElement* g = child(c, "gpu")) dev = integer(*g, "dev");
          gpuSlots_.push_back({bus, dev ? static_cast<int>(*dev) : -1, &c});
        } else if (kind == PciKind::kNic) {
          const XmlElement* nic = child(c, "nic");
          if (!nic || nic->children.empty()) nicSlots_.push_back({bus, -1, &c});
        }
      }
      if (c.name == "net") {
        auto dev = integer(c, "dev");
        nicSlots_.push_back({"", dev ? static_cast<int>(*dev) : -1, &c});
      }
      prescan(c);
    }
  }
  struct Slot {
    std::string bus;
    int index;
    const XmlElement* el;
  };
  void assignIndices() {
    auto assign = [&](std::vector<Slot>& slots, const char* what) {
      std::set<int> used;
      for (const Slot& s : slots) {
        if (s.index < 0) continue;
        if (s.index > 1 << 20) fail(*s.el, std::string(what) + " dev index out of range");
        if (!used.insert(s.index).second)
          fail(*s.el, std::string(what) + " dev=" + std::to_string(s.index) + " is used twice");
      }
      std::vector<Slot*> rest;
      for (Slot& s : slots)
        if (s.index < 0) rest.push_back(&s);
      std::stable_sort(rest.begin(), rest.end(),
                       [](const Slot* a, const Slot* b) { return a->bus < b->bus; });
      int next = 0;
      for (Slot* s : rest) {
        while (used.count(next)) ++next;
        s->index = next;
        used.insert(next);
      }
      for (const Slot& s : slots) indexOf_[s.el] = s.index;
    };
    assign(gpuSlots_, "GPU");
    assign(nicSlots_, "NIC");
  }

  void cpu(const XmlElement& el) {
    Node n;
    n.type = NodeType::kCpu;
    n.host = 0;
    const auto numa = integer(el, "numaid");
    n.numa = numa ? static_cast<int>(*numa) : static_cast<int>(cpuCount_);
    if (n.numa < 0) fail(el, "numaid must be >= 0");
    n.index = n.numa;
    n.name = "CPU" + std::to_string(n.numa);
    if (sys_.findByName(n.name)) fail(el, "numaid " + std::to_string(n.numa) + " appears twice");
    if (const std::string* aff = el.attr("affinity")) {
      try {
        n.cpuset = formatCpuList(parseCpuMask(*aff));
      } catch (const Error& e) {
        fail(el, e.what());
      }
      n.threads = static_cast<int>(parseCpuList(n.cpuset).size());
    }
    if (const std::string* v = el.attr("arch")) n.arch = *v;
    if (const std::string* v = el.attr("vendor")) n.vendor = *v;
    if (auto v = integer(el, "familyid")) n.familyId = static_cast<int>(*v);
    if (auto v = integer(el, "modelid")) n.modelId = static_cast<int>(*v);
    keepOthers(n, el, {"numaid", "affinity", "arch", "vendor", "familyid", "modelid"});
    const NodeId id = sys_.addNode(std::move(n));
    ++cpuCount_;
    for (const XmlElement& c : el.children) {
      if (c.name == "pci") {
        pci(c, id, id);
      } else if (c.name == "nic") {
        nic(c, id, id, nullptr);
      } else {
        fail(c, "unexpected element inside <cpu> (expected <pci> or <nic>)");
      }
    }
  }

  Link pcieLinkFrom(const XmlElement& el, NodeId parent, NodeId child, Node& childNode) {
    int gen = 0, width = 0;
    if (const std::string* sp = el.attr("link_speed")) {
      char* end = nullptr;
      const double gts = std::strtod(sp->c_str(), &end);
      if (end != sp->c_str()) {
        gen = pcieGenFromGts(gts);
        if (gen == 0) fail(el, "link_speed='" + *sp + "' is not a PCIe rate (2.5 to 64 GT/s)");
      }
      childNode.props["pci.link_speed"] = *sp;
    }
    if (auto w = integer(el, "link_width")) {
      if (*w < 0 || *w > 32) fail(el, "link_width must be 0 to 32 lanes");
      width = static_cast<int>(*w);
      childNode.props["pci.link_width"] = *el.attr("link_width");
    }
    return makePcie(parent, child, gen, width);
  }

  void pci(const XmlElement& el, NodeId parent, NodeId cpu) {
    const std::string bus = busIdOf(el);
    const PciKind kind = kindOf(el);
    const uint32_t cls = classOf(el);
    const int numa = sys_.node(cpu).numa;
    Node n;
    n.host = 0;
    n.busId = bus;
    n.pciClass = cls;
    n.numa = numa;
    keepOthers(n, el, {"busid", "class", "link_speed", "link_width"});
    if (el.attr("class")) n.props["pci.class"] = *el.attr("class");
    if (const std::string* v = el.attr("vendor")) {
      if (*v == "0x10de" || *v == "0x10DE") n.vendor = "NVIDIA";
      if (*v == "0x15b3") n.vendor = "Mellanox";
    }
    switch (kind) {
      case PciKind::kBridge:
        n.type = NodeType::kPci;
        n.index = pciCount_++;
        n.name = "PCI" + std::to_string(n.index);
        break;
      case PciKind::kNvSwitch:
        n.type = NodeType::kNvSwitch;
        n.index = nvsCount_++;
        n.name = "NVS" + std::to_string(n.index);
        n.tier = 1;
        n.group = 0;
        break;
      case PciKind::kGpu:
        n.type = NodeType::kGpu;
        n.index = indexOf_.at(&el);
        n.name = "GPU" + std::to_string(n.index);
        break;
      case PciKind::kNic:
        n.type = NodeType::kNic;
        break;
    }
    if (kind == PciKind::kNic) {
      const XmlElement* nicEl = child(el, "nic");
      if (!nicEl || nicEl->children.empty()) {
        n.index = indexOf_.at(&el);
        n.name = "NIC" + std::to_string(n.index);
        n.rail = n.index;
        Link l = pcieLinkFrom(el, parent, kNoNode, n);
        const NodeId id = sys_.addNode(std::move(n));
        l.b = id;
        sys_.addLink(l);
      } else {
        nic(*nicEl, parent, cpu, &el);
      }
      for (const XmlElement& c : el.children)
        if (c.name != "nic") fail(c, "unexpected element inside a NIC's <pci>");
      return;
    }
    Link l = pcieLinkFrom(el, parent, kNoNode, n);
    const NodeId id = sys_.addNode(std::move(n));
    l.b = id;
    sys_.addLink(l);
    for (const XmlElement& c : el.children) {
      if (c.name == "pci") {
        if (kind != PciKind::kBridge) fail(c, "a <pci> device below a GPU or NVSwitch");
        pci(c, id, cpu);
      } else if (c.name == "gpu") {
        gpu(c, id, cpu);
      } else if (c.name == "nic") {
        fail(c, "<nic> inside a <pci> that is not a NIC");
      } else {
        fail(c, "unexpected element inside <pci>");
      }
    }
  }

  void gpu(const XmlElement& el, NodeId gpuId, NodeId cpu) {
    Node& n = sys_.mutableNode(gpuId);
    if (auto sm = integer(el, "sm")) {
      if (*sm < 0 || *sm > 10000) fail(el, "sm out of range");
      n.sm = static_cast<int>(*sm);
    }
    keepOthers(n, el, {"dev", "sm"});
    for (const XmlElement& c : el.children) {
      if (c.name == "nvlink") {
        const std::string* target = c.attr("target");
        if (!target) fail(c, "missing attribute target");
        const auto count = integer(c, "count").value_or(1);
        if (count < 1 || count > 1024) fail(c, "count must be 1 to 1024");
        const auto tclass = integer(c, "tclass").value_or(0x030200);
        nvlinks_.push_back(
            {gpuId, cpu, *target, static_cast<int>(count), static_cast<uint32_t>(tclass), &c});
      } else if (c.name == "c2c") {
        const auto count = integer(c, "count").value_or(1);
        if (count < 1 || count > 1024) fail(c, "count must be 1 to 1024");
        Link l = makeC2C(cpu, gpuId, static_cast<int>(count));
        if (auto bw = number(c, "bw")) {
          if (!(*bw > 0)) fail(c, "bw must be positive (GB/s per link)");
          l.bw = *bw * static_cast<double>(count);
        }
        sys_.addLink(l);
      } else {
        fail(c, "unexpected element inside <gpu> (expected <nvlink> or <c2c>)");
      }
    }
  }

  // <nic> with <net> children: one NIC node per port. Under a <pci> (pciEl), the ports share
  // its bus id and PCIe link; under a <cpu>, they hang on the CPU with a link of unknown shape.
  void nic(const XmlElement& el, NodeId parent, NodeId cpu, const XmlElement* pciEl) {
    if (el.children.empty() && !pciEl) fail(el, "<nic> without <net> ports");
    for (const XmlElement& c : el.children) {
      if (c.name != "net") fail(c, "unexpected element inside <nic> (expected <net>)");
      Node n;
      n.type = NodeType::kNic;
      n.host = 0;
      n.numa = sys_.node(cpu).numa;
      n.index = indexOf_.at(&c);
      n.name = "NIC" + std::to_string(n.index);
      n.rail = n.index;
      const std::string* name = c.attr("name");
      if (!name || name->empty()) fail(c, "missing attribute name");
      if (pciEl) {
        n.busId = busIdOf(*pciEl);
        n.pciClass = classOf(*pciEl);
        keepOthers(n, *pciEl, {"busid", "class", "link_speed", "link_width"});
        if (pciEl->attr("class")) n.props["pci.class"] = *pciEl->attr("class");
      }
      const bool rdma = (n.pciClass >> 8) == 0x0207 || looksLikeRdmaDevice(*name);
      if (rdma)
        n.rdmaDevice = *name;
      else
        n.ifname = *name;
      if (auto speed = number(c, "speed")) {
        if (*speed < 0) fail(c, "speed must be >= 0 (Mb/s)");
        n.speedGbps = *speed / 1000.0;
      }
      if (auto port = integer(c, "port")) n.port = static_cast<int>(*port);
      if (const std::string* g = c.attr("guid")) n.guid = *g;
      keepOthers(n, c, {"name", "dev", "speed", "port", "guid"});
      Link l = pciEl ? pcieLinkFrom(*pciEl, parent, kNoNode, n) : makePcie(parent, kNoNode, 0, 0);
      const NodeId id = sys_.addNode(std::move(n));
      l.b = id;
      sys_.addLink(l);
    }
  }

  void addCpuLinks() {
    const auto cpus = sys_.nodesOfType(NodeType::kCpu);
    for (size_t i = 0; i < cpus.size(); ++i)
      for (size_t j = i + 1; j < cpus.size(); ++j) {
        const Node& a = sys_.node(cpus[i]);
        sys_.addLink(makeCpuLink(cpus[i], cpus[j],
                                 cpuInterconnectModeled(a.vendor, a.familyId, a.modelId, a.arch)));
      }
  }

  void resolveNvlinks() {
    std::map<std::pair<NodeId, NodeId>, int> gpuPairs;  // GPU-GPU links already added
    for (const PendingNvlink& p : nvlinks_) {
      const std::string bus = canonicalBusId(p.target);
      const int gen = nvlinkGenForSm(sys_.node(p.gpu).sm);
      if (p.tclass == 0x068000) {
        NodeId nvs = kNoNode;
        if (auto found = sys_.findByBusId(0, bus)) {
          if (sys_.node(*found).type != NodeType::kNvSwitch)
            fail(*p.el, "target " + bus + " has tclass 0x068000 (NVSwitch) but is a " +
                            nodeTypeName(sys_.node(*found).type));
          nvs = *found;
        } else {
          Node n;
          n.type = NodeType::kNvSwitch;
          n.host = 0;
          n.busId = bus;
          n.index = nvsCount_++;
          n.name = "NVS" + std::to_string(n.index);
          n.tier = 1;
          n.group = 0;
          n.pciClass = 0x068000;
          n.vendor = "NVIDIA";
          nvs = sys_.addNode(std::move(n));
        }
        sys_.addLink(makeNvlink(p.gpu, nvs, gen, p.count));
      } else if (p.tclass == 0x060000) {
        sys_.addLink(makeNvlink(p.gpu, p.cpu, gen, p.count));
      } else {
        auto found = sys_.findByBusId(0, bus);
        if (!found || sys_.node(*found).type != NodeType::kGpu) {
          sys_.addNote("NVLink from " + sys_.node(p.gpu).name + " to " + bus +
                       " ignored: no GPU with that bus id in the file (line " +
                       std::to_string(p.el->line) + ")");
          continue;
        }
        const auto key = std::minmax(p.gpu, *found);
        if (gpuPairs.count(key)) continue;  // the other GPU listed the same link
        gpuPairs[key] = p.count;
        sys_.addLink(makeNvlink(p.gpu, *found, gen, p.count));
      }
    }
  }

  struct PendingNvlink {
    NodeId gpu;
    NodeId cpu;
    std::string target;
    int count;
    uint32_t tclass;
    const XmlElement* el;
  };

  const std::string& origin_;
  System sys_;
  std::set<std::string> busIds_;
  std::vector<Slot> gpuSlots_;
  std::vector<Slot> nicSlots_;
  std::map<const XmlElement*, int> indexOf_;
  std::vector<PendingNvlink> nvlinks_;
  size_t cpuCount_ = 0;
  int pciCount_ = 0;
  int nvsCount_ = 0;
};

}  // namespace

System importNcclXml(std::string_view text, const std::string& origin) {
  const XmlElement root = parseXml(text, origin);
  Importer imp(origin);
  return imp.run(root);
}

System loadNcclXmlFile(const std::string& path) {
  return importNcclXml(readTextFile(path), path);
}

}  // namespace plexus::topo
