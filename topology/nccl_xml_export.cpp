// NCCL topology XML export: one host of a System → the element tree, written by pugixml
// (xml_tree.hpp).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "base/error.hpp"
#include "topology/link_constants.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/tree.hpp"
#include "topology/xml_tree.hpp"

namespace plexus::topo {
namespace {

std::string hex6(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%06x", v);
  return buf;
}

std::string formatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

class Exporter {
 public:
  Exporter(const System& sys, int host) : sys_(sys), host_(host), tree_(buildHostTree(sys)) {
    // Stand-in bus ids for NVSwitch chips that have none (not PCI-visible): fffe:NN:00.0.
    int k = 0;
    for (NodeId id : sys.nodesOfType(NodeType::kNvSwitch))
      if (sys.node(id).busId.empty()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "fffe:%02x:%02x.0", (k >> 5) & 0xff, k & 0x1f);
        standIn_[id] = buf;
        ++k;
      }
  }

  XmlElement run() {
    if (host_ < 0 || host_ >= sys_.hostCount())
      throwError(ErrorCode::kInvalidArgument, "topology %s has no host %d to export",
                 sys_.name().c_str(), host_);
    XmlElement root;
    root.name = "system";
    root.set("version", "1");
    int maxCpu = -1;
    for (NodeId c : tree_.roots) {
      if (sys_.node(c).host != host_) continue;
      for (int x : parseCpuList(sys_.node(c).cpuset)) maxCpu = std::max(maxCpu, x);
    }
    const int words = maxCpu / 32 + 1;
    for (NodeId c : tree_.roots) {
      const Node& n = sys_.node(c);
      if (n.host != host_) continue;
      XmlElement el;
      el.name = "cpu";
      el.set("numaid", std::to_string(n.numa >= 0 ? n.numa : n.index));
      if (!n.cpuset.empty()) el.set("affinity", formatCpuMask(parseCpuList(n.cpuset), words));
      if (!n.arch.empty()) el.set("arch", n.arch);
      if (!n.vendor.empty()) el.set("vendor", n.vendor);
      if (n.familyId >= 0) el.set("familyid", std::to_string(n.familyId));
      if (n.modelId >= 0) el.set("modelid", std::to_string(n.modelId));
      writeProps(el, n, "cpu.");
      children(el, c);
      root.children.push_back(std::move(el));
    }
    return root;
  }

 private:
  static void writeProps(XmlElement& el, const Node& n, const std::string& prefix) {
    for (const auto& [k, v] : n.props)
      if (k.rfind(prefix, 0) == 0) {
        const std::string key = k.substr(prefix.size());
        if (!el.attr(key)) el.set(key, v);
      }
  }

  void children(XmlElement& el, NodeId parent) {
    std::set<std::string> nicBusDone;
    for (NodeId c : tree_.children[static_cast<size_t>(parent)]) {
      const Node& n = sys_.node(c);
      if (n.type == NodeType::kNic && n.busId.empty()) {
        XmlElement nicEl;
        nicEl.name = "nic";
        nicEl.children.push_back(net(n));
        el.children.push_back(std::move(nicEl));
        continue;
      }
      if (n.busId.empty()) continue;  // not expressible in NCCL XML
      if (n.type == NodeType::kNic) {
        if (!nicBusDone.insert(n.busId).second) continue;
      }
      el.children.push_back(pci(c));
    }
  }

  XmlElement pci(NodeId id) {
    const Node& n = sys_.node(id);
    XmlElement el;
    el.name = "pci";
    el.set("busid", n.busId);
    auto rawClass = n.props.find("pci.class");
    if (rawClass != n.props.end() &&
        std::strtoul(rawClass->second.c_str(), nullptr, 0) == n.pciClass)
      el.set("class", rawClass->second);
    else
      el.set("class", hex6(n.pciClass ? n.pciClass : defaultClass(n.type)));
    for (const char* k : {"vendor", "device", "subsystem_vendor", "subsystem_device"}) {
      auto it = n.props.find(std::string("pci.") + k);
      if (it != n.props.end()) el.set(k, it->second);
    }
    const int li = tree_.parentLink[static_cast<size_t>(id)];
    if (li >= 0 && sys_.link(li).type == LinkType::kPcie) {
      const Link& l = sys_.link(li);
      if (l.gen > 0) {
        auto raw = n.props.find("pci.link_speed");
        if (raw != n.props.end() &&
            pcieGenFromGts(std::strtod(raw->second.c_str(), nullptr)) == l.gen) {
          el.set("link_speed", raw->second);
        } else {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.1f GT/s PCIe", pcieGts(l.gen));
          el.set("link_speed", buf);
        }
      } else if (auto raw = n.props.find("pci.link_speed"); raw != n.props.end()) {
        el.set("link_speed", raw->second);  // e.g. "Unknown"
      }
      if (l.width > 0) el.set("link_width", std::to_string(l.width));
    }
    writeProps(el, n, "pci.");
    switch (n.type) {
      case NodeType::kGpu:
        if (n.sm > 0 || hasLink(id, LinkType::kNvLink) || hasLink(id, LinkType::kC2C) ||
            hasProps(n, "gpu."))
          el.children.push_back(gpu(n));
        break;
      case NodeType::kNic: {
        XmlElement nicEl;
        nicEl.name = "nic";
        for (NodeId other : sys_.nodesOfType(NodeType::kNic, host_)) {
          const Node& o = sys_.node(other);
          if (o.busId == n.busId && hasName(o)) nicEl.children.push_back(net(o));
        }
        if (!nicEl.children.empty()) el.children.push_back(std::move(nicEl));
        break;
      }
      default:
        children(el, id);
    }
    return el;
  }

  static uint32_t defaultClass(NodeType t) {
    switch (t) {
      case NodeType::kGpu:
        return 0x030200;
      case NodeType::kNic:
        return 0x020700;
      case NodeType::kNvSwitch:
        return 0x068000;
      default:
        return 0x060400;
    }
  }
  bool hasLink(NodeId id, LinkType t) const {
    for (int li : sys_.linksOf(id))
      if (sys_.link(li).type == t) return true;
    return false;
  }
  static bool hasProps(const Node& n, const std::string& prefix) {
    for (const auto& kv : n.props)
      if (kv.first.rfind(prefix, 0) == 0) return true;
    return false;
  }
  static bool hasName(const Node& n) { return !n.rdmaDevice.empty() || !n.ifname.empty(); }

  XmlElement gpu(const Node& n) {
    XmlElement el;
    el.name = "gpu";
    el.set("dev", std::to_string(n.index));
    el.set("sm", std::to_string(n.sm));
    writeProps(el, n, "gpu.");
    // NVLinks grouped by remote end, in remote id order.
    std::map<NodeId, int> byRemote;
    for (int li : sys_.linksOf(n.id)) {
      const Link& l = sys_.link(li);
      if (l.type == LinkType::kNvLink) byRemote[l.other(n.id)] += l.count;
    }
    for (const auto& [remote, count] : byRemote) {
      const Node& r = sys_.node(remote);
      XmlElement nv;
      nv.name = "nvlink";
      std::string target = r.busId;
      uint32_t tclass = r.pciClass ? r.pciClass : 0x030200;
      if (r.type == NodeType::kNvSwitch) {
        if (target.empty()) target = standIn_.at(remote);
        tclass = 0x068000;
      } else if (r.type == NodeType::kCpu) {
        target = "0000:00:00.0";
        tclass = 0x060000;
      }
      if (target.empty()) continue;
      nv.set("target", target);
      nv.set("count", std::to_string(count));
      nv.set("tclass", hex6(tclass));
      el.children.push_back(std::move(nv));
    }
    for (int li : sys_.linksOf(n.id)) {
      const Link& l = sys_.link(li);
      if (l.type != LinkType::kC2C) continue;
      XmlElement c2c;
      c2c.name = "c2c";
      c2c.set("count", std::to_string(l.count));
      c2c.set("bw", formatNumber(l.bw / l.count));
      el.children.push_back(std::move(c2c));
    }
    return el;
  }

  XmlElement net(const Node& n) {
    XmlElement el;
    el.name = "net";
    el.set("name", !n.rdmaDevice.empty() ? n.rdmaDevice : n.ifname);
    el.set("dev", std::to_string(n.index));
    el.set("speed", formatNumber(std::round(n.speedGbps * 1000.0)));
    el.set("port", std::to_string(n.port));
    if (!n.guid.empty()) el.set("guid", n.guid);
    writeProps(el, n, "net.");
    return el;
  }

  const System& sys_;
  int host_;
  HostTree tree_;
  std::map<NodeId, std::string> standIn_;
};

}  // namespace

std::string exportNcclXml(const System& system, int host) {
  Exporter ex(system, host);
  return writeXml(ex.run());
}

}  // namespace plexus::topo
