// System: node/link storage, name index, look-ups, and CPU set / bus id helpers.
#include "topology/graph.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "base/error.hpp"

namespace plexus::topo {

const char* nodeTypeName(NodeType t) {
  switch (t) {
    case NodeType::kCpu:
      return "cpu";
    case NodeType::kPci:
      return "pci";
    case NodeType::kGpu:
      return "gpu";
    case NodeType::kNic:
      return "nic";
    case NodeType::kNvSwitch:
      return "nvswitch";
    case NodeType::kNetSwitch:
      return "netswitch";
  }
  return "?";
}

const char* linkTypeName(LinkType t) {
  switch (t) {
    case LinkType::kNvLink:
      return "nvlink";
    case LinkType::kC2C:
      return "c2c";
    case LinkType::kPcie:
      return "pcie";
    case LinkType::kCpuInterconnect:
      return "cpu";
    case LinkType::kNetwork:
      return "net";
  }
  return "?";
}

std::optional<NodeType> parseNodeType(std::string_view s) {
  for (NodeType t : {NodeType::kCpu, NodeType::kPci, NodeType::kGpu, NodeType::kNic,
                     NodeType::kNvSwitch, NodeType::kNetSwitch})
    if (s == nodeTypeName(t)) return t;
  return std::nullopt;
}

std::optional<LinkType> parseLinkType(std::string_view s) {
  for (LinkType t : {LinkType::kNvLink, LinkType::kC2C, LinkType::kPcie, LinkType::kCpuInterconnect,
                     LinkType::kNetwork})
    if (s == linkTypeName(t)) return t;
  return std::nullopt;
}

std::string Node::label() const {
  if (!busId.empty()) return name + " (" + busId + ")";
  return name;
}

int System::addHost(std::string name) {
  hosts_.push_back(HostInfo{std::move(name)});
  return static_cast<int>(hosts_.size()) - 1;
}

NodeId System::addNode(Node node) {
  if (node.name.empty())
    throwError(ErrorCode::kInvalidArgument, "topology %s: a %s node has no name", name_.c_str(),
               nodeTypeName(node.type));
  if (byName_.count(node.name))
    throwError(ErrorCode::kInvalidArgument, "topology %s: node name '%s' is used twice",
               name_.c_str(), node.name.c_str());
  if (node.host < -1 || node.host >= hostCount())
    throwError(ErrorCode::kInvalidArgument, "topology %s: node '%s' names host %d of %d",
               name_.c_str(), node.name.c_str(), node.host, hostCount());
  node.id = static_cast<NodeId>(nodes_.size());
  byName_.emplace(node.name, node.id);
  nodes_.push_back(std::move(node));
  adjacency_.emplace_back();
  return nodes_.back().id;
}

int System::addLink(const Link& link) {
  const auto n = static_cast<NodeId>(nodes_.size());
  if (link.a < 0 || link.a >= n || link.b < 0 || link.b >= n || link.a == link.b)
    throwError(ErrorCode::kInvalidArgument, "topology %s: bad %s link between node ids %d and %d",
               name_.c_str(), linkTypeName(link.type), link.a, link.b);
  if (!(link.bw > 0))
    throwError(ErrorCode::kInvalidArgument, "topology %s: %s link %s - %s has bandwidth %g",
               name_.c_str(), linkTypeName(link.type), nodes_[link.a].name.c_str(),
               nodes_[link.b].name.c_str(), link.bw);
  const int id = static_cast<int>(links_.size());
  links_.push_back(link);
  adjacency_[link.a].push_back(id);
  adjacency_[link.b].push_back(id);
  return id;
}

std::optional<NodeId> System::findByName(std::string_view name) const {
  auto it = byName_.find(std::string(name));
  if (it == byName_.end()) return std::nullopt;
  return it->second;
}

std::optional<NodeId> System::resolve(std::string_view text) const {
  if (auto id = findByName(text)) return id;
  // Case-insensitive name match.
  auto lower = [](std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
  };
  const std::string want = lower(text);
  for (const Node& n : nodes_)
    if (lower(n.name) == want) return n.id;
  const std::string bus = canonicalBusId(text);
  for (const Node& n : nodes_) {
    if (!n.busId.empty() && n.busId == bus && n.type != NodeType::kPci) return n.id;
  }
  for (const Node& n : nodes_)
    if (!n.busId.empty() && n.busId == bus) return n.id;
  for (const Node& n : nodes_) {
    if (n.type != NodeType::kNic) continue;
    if (n.ifname == text || n.rdmaDevice == text) return n.id;
    if (!n.rdmaDevice.empty() && n.rdmaDevice + ":" + std::to_string(n.port) == text) return n.id;
  }
  if (hostCount() > 1) return findByName(hosts_[0].name + "/" + std::string(text));
  return std::nullopt;
}

std::vector<NodeId> System::nodesOfType(NodeType type, int host) const {
  std::vector<NodeId> out;
  for (const Node& n : nodes_)
    if (n.type == type && (host < 0 || n.host == host)) out.push_back(n.id);
  return out;
}

std::optional<NodeId> System::findByBusId(int host, std::string_view busId) const {
  const std::string bus = canonicalBusId(busId);
  for (const Node& n : nodes_)
    if (n.host == host && n.busId == bus) return n.id;
  return std::nullopt;
}

size_t System::countNodes(NodeType type) const {
  return static_cast<size_t>(
      std::count_if(nodes_.begin(), nodes_.end(), [&](const Node& n) { return n.type == type; }));
}

size_t System::countLinks(LinkType type) const {
  return static_cast<size_t>(
      std::count_if(links_.begin(), links_.end(), [&](const Link& l) { return l.type == type; }));
}

std::string canonicalBusId(std::string_view text) {
  std::string s(text);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Split "[domain:]bus:dev[.fn]".
  auto isHex = [](std::string_view v) {
    return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return std::isxdigit(c); });
  };
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ':') {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() < 2 || parts.size() > 3) return s;
  std::string domain = parts.size() == 3 ? parts[0] : "0000";
  // NVML writes 8-digit domains ("00000000:18:00.0"): drop leading zeros down to 4 digits.
  while (domain.size() > 4 && domain[0] == '0') domain.erase(0, 1);
  std::string bus = parts[parts.size() - 2];
  std::string devfn = parts.back();
  std::string dev = devfn, fn = "0";
  if (auto dot = devfn.find('.'); dot != std::string::npos) {
    dev = devfn.substr(0, dot);
    fn = devfn.substr(dot + 1);
  }
  if (!isHex(domain) || !isHex(bus) || !isHex(dev) || !isHex(fn)) return s;
  auto pad = [](std::string v, size_t w) {
    if (v.size() < w) v.insert(0, w - v.size(), '0');
    return v;
  };
  return pad(domain, 4) + ":" + pad(bus, 2) + ":" + pad(dev, 2) + "." + fn;
}

std::vector<int> parseCpuList(std::string_view list) {
  std::vector<int> cpus;
  size_t pos = 0;
  auto bad = [&]() {
    throwError(ErrorCode::kInvalidArgument, "CPU list '%.*s' is malformed (expected e.g. 0-3,8)",
               static_cast<int>(list.size()), list.data());
  };
  auto number = [&](int& out) {
    auto [p, ec] = std::from_chars(list.data() + pos, list.data() + list.size(), out);
    if (ec != std::errc() || out < 0) bad();
    pos = static_cast<size_t>(p - list.data());
  };
  while (pos < list.size()) {
    if (list[pos] == '\n' || list[pos] == ' ') {
      ++pos;
      continue;
    }
    int lo = 0, hi = 0;
    number(lo);
    hi = lo;
    if (pos < list.size() && list[pos] == '-') {
      ++pos;
      number(hi);
      if (hi < lo) bad();
    }
    if (hi - lo > 1 << 20) bad();
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
    if (pos < list.size() && list[pos] == ',')
      ++pos;
    else if (pos < list.size() && list[pos] != '\n' && list[pos] != ' ')
      bad();
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

std::string formatCpuList(const std::vector<int>& cpusIn) {
  std::vector<int> cpus = cpusIn;
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

std::vector<int> parseCpuMask(std::string_view mask) {
  // Words are most significant first.
  std::vector<uint32_t> words;
  size_t start = 0;
  for (size_t i = 0; i <= mask.size(); ++i) {
    if (i == mask.size() || mask[i] == ',') {
      std::string_view w = mask.substr(start, i - start);
      if (w.size() >= 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) w.remove_prefix(2);
      uint32_t v = 0;
      auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), v, 16);
      if (w.empty() || w.size() > 8 || ec != std::errc() || p != w.data() + w.size())
        throwError(ErrorCode::kInvalidArgument,
                   "CPU mask '%.*s' is malformed (expected comma-separated 32-bit hex words)",
                   static_cast<int>(mask.size()), mask.data());
      words.push_back(v);
      start = i + 1;
    }
  }
  std::vector<int> cpus;
  const int n = static_cast<int>(words.size());
  for (int wi = 0; wi < n; ++wi) {
    const uint32_t v = words[static_cast<size_t>(n - 1 - wi)];
    for (int bit = 0; bit < 32; ++bit)
      if (v & (1u << bit)) cpus.push_back(wi * 32 + bit);
  }
  return cpus;
}

std::string formatCpuMask(const std::vector<int>& cpus, int minWords) {
  int maxCpu = -1;
  for (int c : cpus) maxCpu = std::max(maxCpu, c);
  const int nwords = std::max(minWords, maxCpu / 32 + 1);
  std::vector<uint32_t> words(static_cast<size_t>(nwords), 0);
  for (int c : cpus)
    if (c >= 0) words[static_cast<size_t>(c / 32)] |= 1u << (c % 32);
  std::string out;
  char buf[16];
  for (int wi = nwords - 1; wi >= 0; --wi) {
    std::snprintf(buf, sizeof buf, "%08x", words[static_cast<size_t>(wi)]);
    if (!out.empty()) out += ',';
    out += buf;
  }
  return out;
}

}  // namespace plexus::topo
