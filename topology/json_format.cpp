// Plexus topology JSON writer and reader (nlohmann_json).
#include "topology/json_format.hpp"

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace plexus::topo {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;  // writes keys in a readable order

constexpr const char* kFormat = "plexus-topology";
constexpr int kVersion = 1;

ojson nodeToJson(const Node& n) {
  ojson j;
  j["name"] = n.name;
  j["type"] = nodeTypeName(n.type);
  if (n.host != -1) j["host"] = n.host;
  if (n.index != -1) j["index"] = n.index;
  if (!n.busId.empty()) j["bus_id"] = n.busId;
  if (n.pciClass != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%06x", n.pciClass);
    j["pci_class"] = buf;
  }
  if (n.numa != -1) j["numa"] = n.numa;
  if (n.package != -1) j["package"] = n.package;
  if (n.cores != 0) j["cores"] = n.cores;
  if (n.threads != 0) j["threads"] = n.threads;
  if (!n.cpuset.empty()) j["cpuset"] = n.cpuset;
  if (n.memoryBytes != 0) j["memory_bytes"] = n.memoryBytes;
  if (!n.arch.empty()) j["arch"] = n.arch;
  if (!n.vendor.empty()) j["vendor"] = n.vendor;
  if (n.familyId != -1) j["family_id"] = n.familyId;
  if (n.modelId != -1) j["model_id"] = n.modelId;
  if (!n.model.empty()) j["model"] = n.model;
  if (n.sm != 0) j["sm"] = n.sm;
  if (!n.uuid.empty()) j["uuid"] = n.uuid;
  if (!n.nvlinkDomain.empty()) j["nvlink_domain"] = n.nvlinkDomain;
  if (!n.ifname.empty()) j["ifname"] = n.ifname;
  if (!n.rdmaDevice.empty()) j["rdma_device"] = n.rdmaDevice;
  if (n.port != 0) j["port"] = n.port;
  if (n.speedGbps != 0) j["speed_gbps"] = n.speedGbps;
  if (!n.up) j["up"] = false;
  if (!n.linkLayer.empty()) j["link_layer"] = n.linkLayer;
  if (!n.guid.empty()) j["guid"] = n.guid;
  if (!n.addresses.empty()) j["addresses"] = n.addresses;
  if (n.rail != -1) j["rail"] = n.rail;
  if (n.tier != 0) j["tier"] = n.tier;
  if (n.group != -1) j["group"] = n.group;
  if (!n.props.empty()) j["props"] = n.props;
  return j;
}

class Reader {
 public:
  explicit Reader(const std::string& origin) : origin_(origin) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throwError(ErrorCode::kInvalidArgument, "%s: %s: %s", origin_.c_str(), where.c_str(),
               what.c_str());
  }
  const json& member(const json& obj, const char* key, const std::string& where) const {
    if (!obj.is_object()) fail(where, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(where, std::string("missing \"") + key + "\"");
    return *it;
  }
  template <typename T>
  T get(const json& obj, const char* key, const std::string& where, T fallback) const {
    auto it = obj.find(key);
    if (it == obj.end()) return fallback;
    try {
      return it->get<T>();
    } catch (const json::exception&) {
      fail(where + "." + key, std::string("wrong type (") + it->type_name() + ")");
    }
  }
  std::string str(const json& obj, const char* key, const std::string& where,
                  const std::string& fallback = {}) const {
    return get<std::string>(obj, key, where, fallback);
  }
  int integer(const json& obj, const char* key, const std::string& where, int fallback) const {
    auto it = obj.find(key);
    if (it == obj.end()) return fallback;
    if (!it->is_number_integer()) fail(where + "." + key, "expected an integer");
    return it->get<int>();
  }

 private:
  const std::string& origin_;
};

}  // namespace

std::string exportJson(const System& sys, int indent) {
  ojson j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["name"] = sys.name();
  j["source"] = sys.source();
  j["notes"] = sys.notes();
  ojson hosts = ojson::array();
  for (const HostInfo& h : sys.hosts()) hosts.push_back(ojson{{"name", h.name}});
  j["hosts"] = std::move(hosts);
  ojson nodes = ojson::array();
  for (const Node& n : sys.nodes()) nodes.push_back(nodeToJson(n));
  j["nodes"] = std::move(nodes);
  ojson links = ojson::array();
  for (const Link& l : sys.links()) {
    ojson lj;
    lj["a"] = sys.node(l.a).name;
    lj["b"] = sys.node(l.b).name;
    lj["type"] = linkTypeName(l.type);
    if (l.count != 1) lj["count"] = l.count;
    if (l.gen != 0) lj["gen"] = l.gen;
    if (l.width != 0) lj["width"] = l.width;
    if (l.speedGbps != 0) lj["speed_gbps"] = l.speedGbps;
    lj["bw"] = l.bw;
    lj["latency_us"] = l.latencyUs;
    links.push_back(std::move(lj));
  }
  j["links"] = std::move(links);
  return j.dump(indent) + "\n";
}

namespace {

json parseJsonText(std::string_view text, const std::string& origin) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // Turn the byte offset into a line number.
    int line = 1;
    for (size_t i = 0; i < e.byte && i < text.size(); ++i)
      if (text[i] == '\n') ++line;
    throwError(ErrorCode::kInvalidArgument, "%s:%d: not valid JSON: %s", origin.c_str(), line,
               e.what());
  } catch (const json::exception& e) {
    // A number beyond double's range (1e999) throws out_of_range, not parse_error: it ended the
    // process (the plan_file fuzz target found it in plan files; topology JSON had the same hole).
    throwError(ErrorCode::kInvalidArgument, "%s: not valid JSON: %s", origin.c_str(), e.what());
  }
}

// The top level: format, version, name, source, notes and hosts.
System readHeader(const Reader& r, const json& j) {
  if (!j.is_object()) r.fail("top level", "expected an object");
  if (r.str(j, "format", "top level") != kFormat)
    r.fail("format", std::string("expected \"") + kFormat + "\"");
  const int version = r.integer(j, "version", "top level", 0);
  if (version != kVersion)
    r.fail("version", "version " + std::to_string(version) + " is not supported (expected 1)");
  System sys(r.str(j, "name", "top level"));
  sys.setSource(r.str(j, "source", "top level"));
  for (const std::string& note : r.get<std::vector<std::string>>(j, "notes", "top level", {}))
    sys.addNote(note);
  const json& hosts = r.member(j, "hosts", "top level");
  if (!hosts.is_array()) r.fail("hosts", "expected an array");
  for (size_t i = 0; i < hosts.size(); ++i)
    sys.addHost(r.str(hosts[i], "name", "hosts[" + std::to_string(i) + "]"));
  return sys;
}

// "pci_class": a number or a string such as "0x030200"; 0 when absent.
uint32_t readPciClass(const Reader& r, const json& nj, const std::string& w) {
  auto pc = nj.find("pci_class");
  if (pc == nj.end()) return 0;
  if (pc->is_number_unsigned()) return pc->get<uint32_t>();
  if (!pc->is_string()) r.fail(w + ".pci_class", "expected a number or a hex string");
  char* end = nullptr;
  const std::string v = pc->get<std::string>();
  const auto cls = static_cast<uint32_t>(std::strtoul(v.c_str(), &end, 0));
  if (v.empty() || *end != '\0') r.fail(w + ".pci_class", "'" + v + "' is not a number");
  return cls;
}

// Where a node is: its kind, host, index, PCI address, NUMA node, CPUs, memory and processor.
void readPlacement(const Reader& r, const json& nj, const std::string& w, Node& n) {
  n.name = r.str(nj, "name", w);
  r.member(nj, "type", w);
  const std::string type = r.str(nj, "type", w);
  auto t = parseNodeType(type);
  if (!t) r.fail(w + ".type", "unknown node type '" + type + "'");
  n.type = *t;
  n.host = r.integer(nj, "host", w, -1);
  n.index = r.integer(nj, "index", w, -1);
  n.busId = r.str(nj, "bus_id", w);
  n.pciClass = readPciClass(r, nj, w);
  n.numa = r.integer(nj, "numa", w, -1);
  n.package = r.integer(nj, "package", w, -1);
  n.cores = r.integer(nj, "cores", w, 0);
  n.threads = r.integer(nj, "threads", w, 0);
  n.cpuset = r.str(nj, "cpuset", w);
  n.memoryBytes = r.get<uint64_t>(nj, "memory_bytes", w, 0);
  n.arch = r.str(nj, "arch", w);
  n.vendor = r.str(nj, "vendor", w);
  n.familyId = r.integer(nj, "family_id", w, -1);
  n.modelId = r.integer(nj, "model_id", w, -1);
}

// What a node is: GPU facts, network port facts, rail, switch tier and group, other properties.
void readDevice(const Reader& r, const json& nj, const std::string& w, Node& n) {
  n.model = r.str(nj, "model", w);
  n.sm = r.integer(nj, "sm", w, 0);
  n.uuid = r.str(nj, "uuid", w);
  n.nvlinkDomain = r.str(nj, "nvlink_domain", w);
  n.ifname = r.str(nj, "ifname", w);
  n.rdmaDevice = r.str(nj, "rdma_device", w);
  n.port = r.integer(nj, "port", w, 0);
  n.speedGbps = r.get<double>(nj, "speed_gbps", w, 0.0);
  n.up = r.get<bool>(nj, "up", w, true);
  n.linkLayer = r.str(nj, "link_layer", w);
  n.guid = r.str(nj, "guid", w);
  n.addresses = r.get<std::vector<std::string>>(nj, "addresses", w, {});
  n.rail = r.integer(nj, "rail", w, -1);
  n.tier = r.integer(nj, "tier", w, 0);
  n.group = r.integer(nj, "group", w, -1);
  n.props = r.get<std::map<std::string, std::string>>(nj, "props", w, {});
}

void readNodes(const Reader& r, const json& j, System& sys) {
  const json& nodes = r.member(j, "nodes", "top level");
  if (!nodes.is_array()) r.fail("nodes", "expected an array");
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string w = "nodes[" + std::to_string(i) + "]";
    const json& nj = nodes[i];
    if (!nj.is_object()) r.fail(w, "expected an object");
    Node n;
    readPlacement(r, nj, w, n);
    readDevice(r, nj, w, n);
    if (!n.cpuset.empty()) {
      try {
        parseCpuList(n.cpuset);
      } catch (const Error& e) {
        r.fail(w + ".cpuset", e.what());
      }
    }
    try {
      sys.addNode(std::move(n));
    } catch (const Error& e) {
      r.fail(w, e.what());
    }
  }
}

Link readLink(const Reader& r, const json& lj, const std::string& w, const System& sys) {
  if (!lj.is_object()) r.fail(w, "expected an object");
  Link l;
  const std::string a = r.str(lj, "a", w), b = r.str(lj, "b", w);
  auto ia = sys.findByName(a), ib = sys.findByName(b);
  if (!ia) r.fail(w + ".a", "no node named '" + a + "'");
  if (!ib) r.fail(w + ".b", "no node named '" + b + "'");
  l.a = *ia;
  l.b = *ib;
  const std::string type = r.str(lj, "type", w);
  auto t = parseLinkType(type);
  if (!t) r.fail(w + ".type", "unknown link type '" + type + "'");
  l.type = *t;
  l.count = r.integer(lj, "count", w, 1);
  l.gen = r.integer(lj, "gen", w, 0);
  l.width = r.integer(lj, "width", w, 0);
  l.speedGbps = r.get<double>(lj, "speed_gbps", w, 0.0);
  r.member(lj, "bw", w);
  l.bw = r.get<double>(lj, "bw", w, 0.0);
  l.latencyUs = r.get<double>(lj, "latency_us", w, 0.0);
  if (l.count < 1) r.fail(w + ".count", "must be >= 1");
  if (l.latencyUs < 0) r.fail(w + ".latency_us", "must be >= 0");
  return l;
}

void readLinks(const Reader& r, const json& j, System& sys) {
  const json& links = r.member(j, "links", "top level");
  if (!links.is_array()) r.fail("links", "expected an array");
  for (size_t i = 0; i < links.size(); ++i) {
    const std::string w = "links[" + std::to_string(i) + "]";
    const Link l = readLink(r, links[i], w, sys);
    try {
      sys.addLink(l);
    } catch (const Error& e) {
      r.fail(w, e.what());
    }
  }
}

}  // namespace

System importJson(std::string_view text, const std::string& origin) {
  const json j = parseJsonText(text, origin);
  Reader r(origin);
  System sys = readHeader(r, j);
  readNodes(r, j, sys);
  readLinks(r, j, sys);
  return sys;
}

}  // namespace plexus::topo
