// GPU peer-to-peer facts: NVML's (from the inventory), CUDA's (at run time), and their mark on the
// graph.
#include "topology/gpu_peers.hpp"

#include <algorithm>
#include <utility>

#include "base/error.hpp"
#include "topology/link_constants.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace plexus::topo {
namespace {

std::pair<std::string, std::string> ordered(const std::string& a, const std::string& b) {
  const std::string x = canonicalBusId(a), y = canonicalBusId(b);
  return x < y ? std::pair{x, y} : std::pair{y, x};
}

void take(int& into, int from) {
  if (from >= 0) into = from;
}

// The union of two "+"-joined source lists, sorted ("cuda+nvml").
std::string joinSource(const std::string& a, const std::string& b) {
  std::vector<std::string> parts;
  for (const std::string* list : {&a, &b}) {
    size_t start = 0;
    while (start < list->size()) {
      size_t end = list->find('+', start);
      if (end == std::string::npos) end = list->size();
      if (end > start) parts.push_back(list->substr(start, end - start));
      start = end + 1;
    }
  }
  std::sort(parts.begin(), parts.end());
  parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
  std::string out;
  for (const std::string& x : parts) out += (out.empty() ? "" : "+") + x;
  return out;
}

// 1 when every known status is OK (0), 0 when one is not, -1 when none is known.
int allOk(std::initializer_list<int> statuses) {
  int out = -1;
  for (int s : statuses) {
    if (s < 0) continue;
    if (s != 0) return 0;
    out = 1;
  }
  return out;
}

// The NVLink count of a direct NVLink between two nodes, 0 when there is none.
int directNvlinks(const System& sys, NodeId a, NodeId b) {
  for (int l : sys.linksOf(a)) {
    const Link& link = sys.link(l);
    if (link.type == LinkType::kNvLink && link.other(a) == b) return link.count;
  }
  return 0;
}

std::string describeFacts(const GpuPeerLink& l, const GpuPairFacts* f) {
  std::string s = formatString("class=%s p2p=%d atomics=%d", pathClassName(l.cls), l.p2p ? 1 : 0,
                               l.atomics ? 1 : 0);
  if (l.nvlinks > 0) s += formatString(" nvlinks=%d", l.nvlinks);
  if (f && f->performanceRank >= 0) s += formatString(" rank=%d", f->performanceRank);
  s += " source=" + (f && !f->source.empty() ? f->source : std::string("graph"));
  return s;
}

}  // namespace

GpuPairFacts& GpuPeerFacts::pair(const std::string& busA, const std::string& busB) {
  const auto [x, y] = ordered(busA, busB);
  for (GpuPairFacts& p : pairs)
    if (p.busA == x && p.busB == y) return p;
  GpuPairFacts p;
  p.busA = x;
  p.busB = y;
  pairs.push_back(p);
  return pairs.back();
}

const GpuPairFacts* GpuPeerFacts::find(const std::string& busA, const std::string& busB) const {
  const auto [x, y] = ordered(busA, busB);
  for (const GpuPairFacts& p : pairs)
    if (p.busA == x && p.busB == y) return &p;
  return nullptr;
}

void GpuPeerFacts::merge(const GpuPairFacts& f) {
  GpuPairFacts& p = pair(f.busA, f.busB);
  const bool cuda = f.source.find("cuda") != std::string::npos;
  const bool hadCuda = p.source.find("cuda") != std::string::npos;
  if (cuda || !hadCuda) {
    take(p.access, f.access);
    take(p.atomics, f.atomics);
  }
  take(p.nvlink, f.nvlink);
  take(p.performanceRank, f.performanceRank);
  p.source = joinSource(p.source, f.source);
}

GpuPeerFacts gpuPeerFactsFromInventory(const Inventory& inv) {
  GpuPeerFacts facts;
  for (const GpuInfo& g : inv.gpus) {
    for (const GpuP2pStatus& st : g.p2p) {
      GpuPairFacts f;
      f.busA = g.busId;
      f.busB = st.remoteBusId;
      f.access = allOk({st.read, st.write});
      f.atomics = allOk({st.atomics});
      f.nvlink = allOk({st.nvlink});
      f.source = "nvml";
      // Each GPU reports the pair; a "no" from either end wins.
      if (const GpuPairFacts* seen = facts.find(f.busA, f.busB)) {
        if (seen->access == 0) f.access = 0;
        if (seen->atomics == 0) f.atomics = 0;
        if (seen->nvlink == 0) f.nvlink = 0;
      }
      facts.merge(f);
    }
  }
  return facts;
}

bool p2pByDefault(PathClass cls) {
  switch (cls) {
    case PathClass::kLoc:
    case PathClass::kNvl:
    case PathClass::kNvb:
    case PathClass::kC2C:
    case PathClass::kPix:
    case PathClass::kPxb:
      return true;
    default:
      return false;
  }
}

std::vector<GpuPeerLink> applyGpuPeers(System& sys, int host, const GpuPeerFacts& facts) {
  const std::vector<NodeId> gpus = sys.nodesOfType(NodeType::kGpu, host);
  // NVLinks NVML vouches for that the graph lacks (e.g. NVLink remote ends were not readable).
  for (size_t i = 0; i < gpus.size(); ++i) {
    for (size_t j = i + 1; j < gpus.size(); ++j) {
      const Node &a = sys.node(gpus[i]), &b = sys.node(gpus[j]);
      const GpuPairFacts* f = facts.find(a.busId, b.busId);
      if (!f || f->nvlink != 1 || directNvlinks(sys, gpus[i], gpus[j]) > 0) continue;
      if (findPath(sys, gpus[i], gpus[j]).cls == PathClass::kNvl) continue;
      sys.addLink(makeNvlink(gpus[i], gpus[j], nvlinkGenForSm(std::max(a.sm, b.sm)), 1));
      sys.addNote("NVLink between " + a.name + " and " + b.name +
                  " from NVML's P2P status (link count unknown: 1 assumed)");
    }
  }
  std::vector<GpuPeerLink> out;
  const PathFinder finder(sys);
  for (size_t i = 0; i < gpus.size(); ++i) {
    for (size_t j = i + 1; j < gpus.size(); ++j) {
      const Path p = finder.find(gpus[i], gpus[j]);
      GpuPeerLink l;
      l.a = gpus[i];
      l.b = gpus[j];
      l.cls = p.cls;
      l.nvlinks = p.nvlinks;
      const GpuPairFacts* f = facts.find(sys.node(l.a).busId, sys.node(l.b).busId);
      // Peer traffic takes a direct NVLink when there is one, even where the widest modelled
      // path is PCIe (a single NVLink of an older generation).
      const int direct = directNvlinks(sys, l.a, l.b);
      if (direct > 0 && l.cls != PathClass::kNvl) {
        l.cls = PathClass::kNvl;
        l.nvlinks = direct;
      }
      l.fromCuda = f && f->source.find("cuda") != std::string::npos;
      l.p2p = f && f->access >= 0 ? f->access == 1 : p2pByDefault(p.cls);
      l.atomics =
          l.p2p && (f && f->atomics >= 0 ? f->atomics == 1
                                         : p.cls == PathClass::kNvl || p.cls == PathClass::kC2C);
      const std::string text = describeFacts(l, f);
      sys.mutableNode(l.a).props["p2p." + sys.node(l.b).name] = text;
      sys.mutableNode(l.b).props["p2p." + sys.node(l.a).name] = text;
      out.push_back(l);
    }
  }
  return out;
}

void addCudaPeerFacts(GpuPeerFacts& facts) {
#if PLEXUS_HAVE_CUDA
  int count = 0;
  const cudaError_t rc = cudaGetDeviceCount(&count);
  if (rc != cudaSuccess || count < 2) {
    facts.notes.push_back(rc != cudaSuccess
                              ? std::string("CUDA P2P attributes (") + cudaGetErrorString(rc) + ")"
                              : std::string("CUDA P2P attributes (fewer than 2 devices)"));
    return;
  }
  std::vector<std::string> bus(static_cast<size_t>(count));
  for (int d = 0; d < count; ++d) {
    char buf[32] = {};
    if (cudaDeviceGetPCIBusId(buf, sizeof(buf), d) == cudaSuccess) bus[d] = canonicalBusId(buf);
  }
  for (int a = 0; a < count; ++a) {
    for (int b = a + 1; b < count; ++b) {
      if (bus[a].empty() || bus[b].empty()) continue;
      GpuPairFacts f;
      f.busA = bus[a];
      f.busB = bus[b];
      f.source = "cuda";
      int ab = 0, ba = 0, atomics = 0, rank = -1;
      if (cudaDeviceCanAccessPeer(&ab, a, b) == cudaSuccess &&
          cudaDeviceCanAccessPeer(&ba, b, a) == cudaSuccess)
        f.access = ab && ba ? 1 : 0;
      if (cudaDeviceGetP2PAttribute(&atomics, cudaDevP2PAttrNativeAtomicSupported, a, b) ==
          cudaSuccess)
        f.atomics = atomics ? 1 : 0;
      if (cudaDeviceGetP2PAttribute(&rank, cudaDevP2PAttrPerformanceRank, a, b) == cudaSuccess)
        f.performanceRank = rank;
      facts.merge(f);
    }
  }
#else
  facts.notes.push_back("CUDA P2P attributes (built without CUDA)");
#endif
}

}  // namespace plexus::topo
