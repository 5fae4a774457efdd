// Host summaries: built from the graph (GPU choice, NIC choice by path class and bandwidth,
// NVLink domain, PCIe switch) and encoded as a small versioned binary record.
#include "topology/summary.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <set>

#include "base/error.hpp"
#include "base/host_id.hpp"
#include "topology/paths.hpp"
#include "topology/tree.hpp"

namespace plexus::topo {
namespace {

constexpr char kMagic[4] = {'P', 'X', 'H', 'S'};
constexpr uint8_t kVersion = 1;

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      u8(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    u8(static_cast<uint8_t>(v));
  }
  void svarint(int64_t v) {
    varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(bits >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void str(const std::string& s) {
    varint(s.size());
    out_ += s;
  }
  void raw(const char* p, size_t n) { out_.append(p, n); }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  [[noreturn]] void fail(const char* what) const {
    throwError(ErrorCode::kInvalidArgument,
               "host summary (%zu bytes) is malformed: %s at byte %zu; are all ranks running "
               "the same Plexus version?",
               in_.size(), what, pos_);
  }
  uint8_t u8() {
    if (pos_ >= in_.size()) fail("truncated");
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = u8();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint too long");
  }
  int64_t svarint() {
    const uint64_t z = varint();
    return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
  }
  uint32_t u32v() {
    const uint64_t v = varint();
    if (v > 0xffffffffu) fail("value out of range");
    return static_cast<uint32_t>(v);
  }
  int32_t i32v() {
    const int64_t v = svarint();
    if (v < INT32_MIN || v > INT32_MAX) fail("value out of range");
    return static_cast<int32_t>(v);
  }
  float f32() {
    uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) bits |= static_cast<uint32_t>(u8()) << (8 * i);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(u8()) << (8 * i);
    return v;
  }
  std::string str() {
    const uint64_t n = varint();
    if (n > 4096 || n > in_.size() - pos_) fail("string length out of range");
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::string_view rest(size_t n) {
    if (n > in_.size() - pos_) fail("truncated");
    auto v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

std::string nicName(const Node& n) {
  return !n.ifname.empty() ? n.ifname : n.rdmaDevice;
}

// NVLink component of a GPU inside its host: smallest GPU id reachable over NVLink (through
// NVSwitch chips), or kNoNode when the GPU has no NVLink.
NodeId nvlinkComponent(const System& sys, NodeId gpu) {
  std::set<NodeId> seen{gpu};
  std::deque<NodeId> q{gpu};
  NodeId best = kNoNode;
  bool any = false;
  while (!q.empty()) {
    const NodeId u = q.front();
    q.pop_front();
    for (int li : sys.linksOf(u)) {
      const Link& l = sys.link(li);
      if (l.type != LinkType::kNvLink) continue;
      any = true;
      const NodeId v = l.other(u);
      if (seen.count(v)) continue;
      const Node& nv = sys.node(v);
      if (nv.type == NodeType::kGpu && nv.host != sys.node(gpu).host) continue;
      seen.insert(v);
      if (nv.type == NodeType::kGpu || nv.type == NodeType::kNvSwitch) q.push_back(v);
    }
  }
  if (!any) return kNoNode;
  for (NodeId v : seen)
    if (sys.node(v).type == NodeType::kGpu && (best == kNoNode || v < best)) best = v;
  return best;
}

}  // namespace

std::string HostSummary::serialize() const {
  Writer w;
  w.raw(kMagic, 4);
  w.u8(kVersion);
  w.varint(packages);
  w.varint(numaNodes);
  w.varint(cores);
  w.varint(threads);
  w.varint(gpuCount);
  w.svarint(gpuIndex);
  w.str(gpuBusId);
  w.svarint(sm);
  w.svarint(numa);
  w.u8(static_cast<uint8_t>((nvlinkDomain != 0 ? 1 : 0) | (nvlinkFabric ? 2 : 0) |
                            (pciSwitch != 0 ? 4 : 0)));
  if (nvlinkDomain != 0) w.u64(nvlinkDomain);
  if (pciSwitch != 0) w.u64(pciSwitch);
  w.svarint(nicIndex);
  w.str(nicName);
  w.f32(nicGbps);
  w.svarint(rail);
  const size_t n = std::min(nics.size(), kMaxNics);
  w.varint(n);
  for (size_t i = 0; i < n; ++i) {
    w.str(nics[i].name);
    w.f32(nics[i].speedGbps);
    w.svarint(nics[i].rail);
  }
  return w.take();
}

HostSummary HostSummary::deserialize(std::string_view bytes) {
  Reader r(bytes);
  if (r.rest(4) != std::string_view(kMagic, 4)) r.fail("bad magic");
  const uint8_t version = r.u8();
  if (version != kVersion) r.fail("unknown version");
  HostSummary s;
  s.packages = r.u32v();
  s.numaNodes = r.u32v();
  s.cores = r.u32v();
  s.threads = r.u32v();
  s.gpuCount = r.u32v();
  s.gpuIndex = r.i32v();
  s.gpuBusId = r.str();
  s.sm = r.i32v();
  s.numa = r.i32v();
  const uint8_t flags = r.u8();
  if (flags & ~7u) r.fail("unknown flags");
  s.nvlinkFabric = flags & 2;
  if (flags & 1) s.nvlinkDomain = r.u64();
  if (flags & 4) s.pciSwitch = r.u64();
  if ((flags & 1) && s.nvlinkDomain == 0) r.fail("zero NVLink domain");
  s.nicIndex = r.i32v();
  s.nicName = r.str();
  s.nicGbps = r.f32();
  s.rail = r.i32v();
  const uint64_t n = r.varint();
  if (n > kMaxNics) r.fail("too many NICs");
  for (uint64_t i = 0; i < n; ++i) {
    NicBrief b;
    b.name = r.str();
    b.speedGbps = r.f32();
    b.rail = r.i32v();
    s.nics.push_back(std::move(b));
  }
  if (!r.done()) r.fail("trailing bytes");
  return s;
}

HostSummary summarizeLocal(const System& system, int localRank) {
  return summarizeHost(system, 0, localRank);
}

namespace {

void countProcessors(const System& sys, int host, HostSummary& s) {
  std::set<int> packages;
  for (NodeId c : sys.nodesOfType(NodeType::kCpu, host)) {
    const Node& n = sys.node(c);
    ++s.numaNodes;
    if (n.package >= 0) packages.insert(n.package);
    s.cores += static_cast<uint32_t>(std::max(0, n.cores));
    s.threads += static_cast<uint32_t>(std::max(0, n.threads));
  }
  s.packages =
      packages.empty() ? (s.numaNodes > 0 ? 1 : 0) : static_cast<uint32_t>(packages.size());
}

std::vector<NodeId> byIndex(const System& sys, NodeType type, int host) {
  std::vector<NodeId> v = sys.nodesOfType(type, host);
  std::sort(v.begin(), v.end(),
            [&](NodeId a, NodeId b) { return sys.node(a).index < sys.node(b).index; });
  return v;
}

// The GPU of the rank: `gpuIndex` when given (negative: none), else one by local rank.
NodeId pickGpu(const System& sys, int host, int localRank, std::optional<int> gpuIndex,
               HostSummary& s) {
  const std::vector<NodeId> gpus = byIndex(sys, NodeType::kGpu, host);
  s.gpuCount = static_cast<uint32_t>(gpus.size());
  NodeId gpu = kNoNode;
  if (gpuIndex.has_value()) {
    for (NodeId g : gpus)
      if (sys.node(g).index == *gpuIndex) gpu = g;
    if (*gpuIndex >= 0 && gpu == kNoNode)
      throwError(ErrorCode::kInvalidArgument, "host summary: host %s has no GPU %d",
                 sys.hosts()[static_cast<size_t>(host)].name.c_str(), *gpuIndex);
  } else if (!gpus.empty()) {
    gpu = gpus[static_cast<size_t>(localRank) % gpus.size()];
  }
  return gpu;
}

// NICs of the host: the up ones (all when none is up), in index order. The up ones are listed
// in the summary.
std::vector<NodeId> usableNics(const System& sys, int host, HostSummary& s) {
  const std::vector<NodeId> nics = byIndex(sys, NodeType::kNic, host);
  std::vector<NodeId> usable;
  for (NodeId n : nics)
    if (sys.node(n).up) usable.push_back(n);
  for (NodeId n : usable) {
    if (s.nics.size() >= HostSummary::kMaxNics) break;
    const Node& nn = sys.node(n);
    s.nics.push_back(
        {nicName(nn), static_cast<float>(nn.speedGbps), nn.rail >= 0 ? nn.rail : nn.index});
  }
  if (usable.empty()) usable = nics;
  return usable;
}

// The GPU's facts, its NVLink domain and the PCIe switch above it.
void describeGpu(const System& sys, NodeId gpu, HostSummary& s) {
  const Node& g = sys.node(gpu);
  s.gpuIndex = g.index;
  s.gpuBusId = g.busId;
  s.sm = g.sm;
  s.numa = g.numa;
  if (!g.nvlinkDomain.empty()) {
    s.nvlinkDomain = fnv1a64(g.nvlinkDomain.data(), g.nvlinkDomain.size());
    s.nvlinkFabric = true;
  } else if (NodeId comp = nvlinkComponent(sys, gpu); comp != kNoNode) {
    const std::string key = "local:" + sys.node(comp).name;
    s.nvlinkDomain = fnv1a64(key.data(), key.size());
  }
  if (s.nvlinkDomain == 0 && (!g.nvlinkDomain.empty() || nvlinkComponent(sys, gpu) != kNoNode))
    s.nvlinkDomain = 1;  // a hash of zero would read as "none"
  const HostTree tree = buildHostTree(sys);
  const NodeId parent = tree.parent[static_cast<size_t>(gpu)];
  if (parent != kNoNode && sys.node(parent).type == NodeType::kPci) {
    const Node& p = sys.node(parent);
    const std::string key = p.busId.empty() ? p.name : p.busId;
    s.pciSwitch = fnv1a64(key.data(), key.size());
    if (s.pciSwitch == 0) s.pciSwitch = 1;
  }
}

// The NIC closest to the GPU (class, then bandwidth); equals are spread over the GPUs.
NodeId closestNic(const System& sys, NodeId gpu, const std::vector<NodeId>& usable) {
  if (usable.empty()) return kNoNode;
  PathFinder finder(sys);
  std::vector<NodeId> ends{gpu};
  ends.insert(ends.end(), usable.begin(), usable.end());
  const PathTable t = finder.table(ends);
  std::vector<NodeId> best;
  PathClass bestCls = PathClass::kDis;
  float bestBw = 0;
  for (size_t i = 1; i < ends.size(); ++i) {
    const PairPath& p = t.at(0, i);
    if (p.cls == PathClass::kDis) continue;
    if (best.empty() || p.cls < bestCls || (p.cls == bestCls && p.bw > bestBw)) {
      best = {ends[i]};
      bestCls = p.cls;
      bestBw = p.bw;
    } else if (p.cls == bestCls && p.bw == bestBw) {
      best.push_back(ends[i]);
    }
  }
  if (best.empty()) return kNoNode;
  const int index = sys.node(gpu).index;
  return best[static_cast<size_t>(index >= 0 ? index : 0) % best.size()];
}

// A CPU rank's NIC: fastest NICs first, spread by local rank.
NodeId cpuRankNic(const System& sys, const std::vector<NodeId>& usable, int localRank) {
  if (usable.empty()) return kNoNode;
  std::vector<NodeId> order = usable;
  std::stable_sort(order.begin(), order.end(), [&](NodeId a, NodeId b) {
    return sys.node(a).speedGbps > sys.node(b).speedGbps;
  });
  return order[static_cast<size_t>(localRank) % order.size()];
}

void describeNic(const System& sys, NodeId nic, HostSummary& s) {
  const Node& n = sys.node(nic);
  s.nicIndex = n.index;
  s.nicName = nicName(n);
  s.nicGbps = static_cast<float>(n.speedGbps);
  s.rail = n.rail >= 0 ? n.rail : n.index;
  if (s.numa < 0) s.numa = n.numa;
}

}  // namespace

HostSummary summarizeHost(const System& sys, int host, int localRank, std::optional<int> gpuIndex) {
  if (host < 0 || host >= sys.hostCount())
    throwError(ErrorCode::kInvalidArgument, "host summary: topology %s has no host %d",
               sys.name().c_str(), host);
  if (localRank < 0)
    throwError(ErrorCode::kInvalidArgument, "host summary: local rank %d is negative", localRank);
  HostSummary s;
  countProcessors(sys, host, s);
  const NodeId gpu = pickGpu(sys, host, localRank, gpuIndex, s);
  const std::vector<NodeId> usable = usableNics(sys, host, s);
  NodeId nic = kNoNode;
  if (gpu != kNoNode) {
    describeGpu(sys, gpu, s);
    nic = closestNic(sys, gpu, usable);
  } else {
    nic = cpuRankNic(sys, usable, localRank);
  }
  if (nic != kNoNode) describeNic(sys, nic, s);
  return s;
}

}  // namespace plexus::topo
