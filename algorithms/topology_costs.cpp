// Topology adapters (topology_costs.hpp): cost figures from a System or a ClusterView, domains for
// hierarchical algorithms, and the `plexus-topo tune` report.
#include "algorithms/topology_costs.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <map>

#include "algorithms/registry.hpp"
#include "algorithms/ring_orders.hpp"
#include "algorithms/tuner.hpp"
#include "base/error.hpp"
#include "topology/link_constants.hpp"
#include "topology/paths.hpp"

namespace plexus::algo {
namespace {

using topo::NodeId;
using topo::NodeType;

struct Placement {
  std::vector<NodeId> gpus;   // rank r -> GPU (empty: CPU ranks)
  std::vector<int> domainOf;  // rank -> domain index
  int domainSize = 0;         // ranks in rank 0's domain
  bool uniform = true;        // every domain holds domainSize consecutive ranks
  int nranks = 0;
};

std::string domainKey(const topo::Node& g) {
  return g.nvlinkDomain.empty() ? "host:" + std::to_string(g.host) : "nvl:" + g.nvlinkDomain;
}

Placement place(const topo::System& sys, int nranks) {
  Placement p;
  std::vector<NodeId> gpus = sys.nodesOfType(NodeType::kGpu);
  std::stable_sort(gpus.begin(), gpus.end(), [&](NodeId a, NodeId b) {
    const topo::Node &x = sys.node(a), &y = sys.node(b);
    return std::make_pair(x.host, x.index) < std::make_pair(y.host, y.index);
  });
  if (gpus.empty()) {
    const int hosts = std::max(1, sys.hostCount());
    p.nranks = nranks > 0 ? nranks : hosts;
    const int perHost = (p.nranks + hosts - 1) / hosts;
    for (int r = 0; r < p.nranks; ++r) p.domainOf.push_back(r / perHost);
    p.domainSize = std::min(perHost, p.nranks);
    p.uniform = p.nranks % perHost == 0;
    return p;
  }
  p.nranks = nranks > 0 ? nranks : static_cast<int>(gpus.size());
  if (static_cast<size_t>(p.nranks) > gpus.size()) {
    throwError(ErrorCode::kInvalidArgument,
               "system %s has %zu GPUs, fewer than the %d ranks asked for (one rank per GPU)",
               sys.name().c_str(), gpus.size(), p.nranks);
  }
  gpus.resize(static_cast<size_t>(p.nranks));
  p.gpus = gpus;
  std::map<std::string, int> ids;
  for (NodeId g : gpus) {
    auto [it, inserted] = ids.try_emplace(domainKey(sys.node(g)), static_cast<int>(ids.size()));
    p.domainOf.push_back(it->second);
  }
  p.domainSize = static_cast<int>(std::count(p.domainOf.begin(), p.domainOf.end(), p.domainOf[0]));
  for (int r = 0; r < p.nranks; ++r) {
    if (p.domainOf[static_cast<size_t>(r)] != r / p.domainSize) p.uniform = false;
  }
  return p;
}

bool switchReduces(const topo::System& sys, const Placement& p) {
  for (const topo::Node& n : sys.nodes()) {
    if (n.type != NodeType::kNvSwitch && n.type != NodeType::kNetSwitch) continue;
    auto it = n.props.find("reduction");
    if (it != n.props.end() && (it->second == "1" || it->second == "true")) return true;
  }
  if (sys.countNodes(NodeType::kNvSwitch) == 0 || p.gpus.empty()) return false;
  return sys.node(p.gpus[0]).sm >= 90;
}

double fastestNicGbps(const topo::System& sys) {
  double best = 0;
  for (NodeId id : sys.nodesOfType(NodeType::kNic)) best = std::max(best, sys.node(id).speedGbps);
  return best > 0 ? best : 10;
}

}  // namespace

TopologyCosts costsFromSystem(const topo::System& sys, int nranks) {
  const Placement p = place(sys, nranks);
  if (p.gpus.empty()) {
    TopologyCosts c = sys.hostCount() > 1 ? TopologyCosts::hosts(p.domainSize, fastestNicGbps(sys))
                                          : TopologyCosts::sharedMemoryHost();
    c.description = sys.name() + ": " + c.description;
    return c;
  }
  TopologyCosts c;
  const topo::PathFinder finder(sys);
  // intra: the narrowest path from rank 0 to up to 16 members of its domain, spread evenly.
  std::vector<int> members;
  for (int r = 1; r < p.nranks; ++r) {
    if (p.domainOf[static_cast<size_t>(r)] == p.domainOf[0]) members.push_back(r);
  }
  double bw = INFINITY, lat = 0;
  const size_t samples = std::min<size_t>(members.size(), 16);
  for (size_t i = 0; i < samples; ++i) {
    const int r = members[i * members.size() / samples];
    const topo::Path path = finder.find(p.gpus[0], p.gpus[static_cast<size_t>(r)]);
    if (!path.connected()) continue;
    bw = std::min(bw, path.bw);
    lat = std::max(lat, path.latencyUs);
  }
  if (std::isinf(bw)) bw = 0;
  // No connected path sampled: the figures NCCL assumes for a link it cannot read (PCIe Gen3 x16).
  c.intra = {bw > 0 ? bw : topo::pcieModeled(0, 0), lat > 0 ? lat : 2 * topo::kPcieLatencyUs};
  c.inter = c.intra;
  if (!members.empty() && members[0] == 1) {
    const topo::Path next = finder.find(p.gpus[0], p.gpus[1]);
    if (next.connected()) c.neighbourUs = next.latencyUs;
  }
  for (int r = 1; r < p.nranks; ++r) {
    if (p.domainOf[static_cast<size_t>(r)] == p.domainOf[0]) continue;
    const topo::Path path = finder.find(p.gpus[0], p.gpus[static_cast<size_t>(r)]);
    if (path.connected()) c.inter = {path.bw, path.latencyUs};
    // Off rail: the last rank of rank 0's domain to the first of the next (rails r-1 and 0).
    const topo::Path off =
        finder.find(p.gpus[static_cast<size_t>(r - 1)], p.gpus[static_cast<size_t>(r)]);
    if (off.connected()) c.offRailUs = off.latencyUs;
    break;
  }
  c.domainSize = p.domainSize >= p.nranks ? 0 : p.domainSize;
  c.switchReduction = switchReduces(sys, p);
  c.gpuProtocols = true;
  const int sm = sys.node(p.gpus[0]).sm;
  c.switchEfficiency = sm >= 100 ? topo::kNvlsEfficiencyBlackwell : topo::kNvlsEfficiencyHopper;
  // GPU engines: one channel moves about 1/8 of a GPU's NVLink bandwidth (NCCL runs 8-32 channels
  // per GPU); per-step and per-call overheads in line with NCCL's Simple protocol figures.
  c.channelGBps = std::max(c.intra.bwGBps, c.inter.bwGBps) / 8;
  c.maxChannels = 32;
  c.messageUs = 1.0;
  c.callUs = 7;
  c.channelUs = 0.1;
  c.reduceGBps = 1000;
  c.description = formatString(
      "%s: %d ranks, %s of %d, intra %.1f GB/s %.2f us, inter %.1f GB/s "
      "%.2f us%s",
      sys.name().c_str(), p.nranks, p.domainSize >= p.nranks ? "one domain" : "domains",
      p.domainSize, c.intra.bwGBps, c.intra.latencyUs, c.inter.bwGBps, c.inter.latencyUs,
      c.switchReduction ? ", reduction-capable switch" : "");
  return c;
}

std::vector<std::vector<int>> groupsFromSystem(const topo::System& sys, int nranks) {
  const Placement p = place(sys, nranks);
  if (!p.uniform || p.domainSize <= 0) return {};
  return contiguousGroups(p.nranks, p.domainSize);
}

std::vector<topo::NodeId> rankDevices(const topo::System& sys, int nranks) {
  const Placement p = place(sys, nranks);
  if (!p.gpus.empty()) return p.gpus;
  const int hosts = std::max(1, sys.hostCount());
  const int perHost = (p.nranks + hosts - 1) / hosts;
  std::vector<std::vector<NodeId>> cpus(static_cast<size_t>(hosts));
  for (NodeId id : sys.nodesOfType(NodeType::kCpu)) {
    const int h = std::max(0, sys.node(id).host);
    if (h < hosts) cpus[static_cast<size_t>(h)].push_back(id);
  }
  std::vector<NodeId> out;
  for (int r = 0; r < p.nranks; ++r) {
    const std::vector<NodeId>& here = cpus[static_cast<size_t>(r / perHost)];
    if (here.empty())
      throwError(ErrorCode::kInvalidArgument, "system %s: host %d has no CPU node to place rank %d",
                 sys.name().c_str(), r / perHost, r);
    out.push_back(here[static_cast<size_t>(r % perHost) % here.size()]);
  }
  return out;
}

std::vector<std::vector<int>> ringOrdersFromSystem(const topo::System& sys, int nranks,
                                                   int nchannels) {
  const std::vector<std::vector<int>> groups = groupsFromSystem(sys, nranks);
  if (groups.size() > 1) return railMatchedRings(groups, nchannels);
  const int n = place(sys, nranks).nranks;
  std::vector<int> order(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) order[static_cast<size_t>(r)] = r;
  return std::vector<std::vector<int>>(static_cast<size_t>(std::max(1, nchannels)), order);
}

TopologyCosts costsFromCluster(const topo::ClusterView& view, const TransportCost& local,
                               const TransportCost& remote) {
  TopologyCosts c;
  int maxLocal = 1;
  bool sharedNic = false;
  for (int h = 0; h < view.nhosts(); ++h) {
    const std::vector<int>& rs = view.ranksOnHost(h);
    maxLocal = std::max(maxLocal, static_cast<int>(rs.size()));
    for (size_t i = 1; i < rs.size(); ++i) {
      if (view.rank(rs[i]).summary.nicName == view.rank(rs[0]).summary.nicName) sharedNic = true;
    }
  }
  const bool oneHost = view.nhosts() == 1;
  c.domainSize = oneHost ? 0 : maxLocal;
  c.intra = {local.bwGBps, local.latencyUs};
  const double share = sharedNic ? maxLocal : 1;
  c.inter = oneHost ? c.intra : LinkCost{remote.bwGBps / share, remote.latencyUs};
  c.messageUs = oneHost ? local.messageUs : std::max(local.messageUs, remote.messageUs);
  c.maxChannels = oneHost ? local.maxChannels : std::min(local.maxChannels, remote.maxChannels);
  c.channelGBps = std::max(1e-3, std::max(c.intra.bwGBps, c.inter.bwGBps) / 2);
  c.description = formatString("%d ranks on %d hosts", view.nranks(), view.nhosts());
  // More ranks than hardware threads on a host: a step that waits for a peer waits for the peer
  // to be scheduled (a context switch per waiting rank ahead of it), and the host's cores are
  // shared by its ranks. Every rank computes this from the same cluster view, so all agree.
  double over = 1;
  for (int h = 0; h < view.nhosts(); ++h) {
    const std::vector<int>& rs = view.ranksOnHost(h);
    const uint32_t threads = view.rank(rs[0]).summary.threads;
    if (threads > 0) over = std::max(over, static_cast<double>(rs.size()) / threads);
  }
  if (over > 1) {
    c.ranksPerThread = over;
    constexpr double kSwitchUs = 5;  // a context switch and the wake-up it needs, on a VM
    c.intra.latencyUs = std::max(c.intra.latencyUs, kSwitchUs * over);
    c.intra.bwGBps /= over;
    c.reduceGBps /= over;
    c.messageUs *= over;  // per-message CPU work is shared too: fewer, larger messages
    c.channelUs *= over;
    if (oneHost) c.inter = c.intra;
    c.description += formatString(", %.3g ranks per hardware thread", over);
  }
  return c;
}

std::vector<std::vector<int>> hierGroupsFromCluster(const topo::ClusterView& view) {
  std::vector<std::vector<int>> groups = view.nvlinkDomains();
  const bool nvlink = std::any_of(groups.begin(), groups.end(),
                                  [](const std::vector<int>& g) { return g.size() > 1; });
  if (!nvlink) {
    groups.clear();
    for (int h = 0; h < view.nhosts(); ++h) groups.push_back(view.ranksOnHost(h));
  }
  for (const auto& g : groups) {
    if (g.size() != groups[0].size()) return {};
  }
  return groups;
}

std::vector<std::vector<int>> ringOrdersFromCluster(const topo::ClusterView& view, int nchannels) {
  std::vector<std::vector<int>> hosts;
  for (int h = 0; h < view.nhosts(); ++h) hosts.push_back(view.ranksOnHost(h));
  return railMatchedRings(hosts, nchannels);
}

namespace {

// The column header of the tune report: one column per candidate.
std::string reportHeader(const TuneResult& r, bool timeOnly) {
  std::string text = timeOnly
                         ? formatString("# %-24s", "chosen (channels, chunk)")
                         : formatString("# %12s  %-24s", "size(B)", "chosen (channels, chunk)");
  for (const Candidate& c : r.candidates) {
    text +=
        formatString(" | %-24s", (c.algorithm + (timeOnly ? " us" : " us algbw busbw")).c_str());
  }
  return text + "\n";
}

// One candidate's cell of a row (text) and its JSON object; callB: the call's bytes.
nlohmann::ordered_json reportCandidate(const Candidate& c, double callB, double busFactorN,
                                       bool timeOnly, std::string& text) {
  const bool ok = c.runnable && std::isfinite(c.timeUs);
  const double algbw = ok ? callB / (c.timeUs * 1e3) : 0;  // GB/s
  const double busbw = algbw * busFactorN;
  if (ok && timeOnly) {
    text += formatString(" | %9.2f", c.timeUs);
    text += std::string(24 - 9, ' ');
  } else if (ok) {
    text += formatString(" | %9.2f %6.2f %6.2f", c.timeUs, algbw, busbw);
    text += std::string(24 - 23, ' ');
  } else {
    text += formatString(" | %-24s", "n/a");
  }
  nlohmann::ordered_json jc = {{"algorithm", c.algorithm}, {"runnable", ok}};
  if (ok) {
    jc["time_us"] = c.timeUs;
    if (!timeOnly) {
      jc["algbw_gbps"] = algbw;
      jc["busbw_gbps"] = busbw;
    }
    jc["channels"] = c.nchannels;
    jc["chunk_elems"] = c.chunkElems;
  } else {
    jc["note"] = c.note;
  }
  return jc;
}

// One row of the report: the tuner's choice for a call of q.count elements and every candidate.
nlohmann::ordered_json reportRow(const TuneRequest& q, const TuneResult& r, bool timeOnly,
                                 std::string& text) {
  const double callB = callBytes(q.collective, q.nranks, q.count, q.elemSize);
  if (!timeOnly) text += formatString("  %12.0f", callB);
  text += formatString("  %-24s", formatString("%s (%d, %" PRIu64 ")", r.best.algorithm.c_str(),
                                               r.best.nchannels, r.best.chunkElems)
                                      .c_str());
  nlohmann::ordered_json row;
  if (!timeOnly) {
    row["bytes"] = callB;
    row["count"] = q.count;
  }
  row["chosen"] = {{"algorithm", r.best.algorithm},
                   {"channels", r.best.nchannels},
                   {"chunk_elems", r.best.chunkElems},
                   {"time_us", r.best.timeUs}};
  row["candidates"] = nlohmann::ordered_json::array();
  const double bf = busFactor(q.collective, q.nranks);
  for (const Candidate& c : r.candidates)
    row["candidates"].push_back(reportCandidate(c, callB, bf, timeOnly, text));
  text += "\n";
  return row;
}

[[noreturn]] void throwNoSize(const TuneReportOptions& o, int n) {
  const bool perRank = callBytes(o.collective, n, 1, 1) > 1;
  throwError(ErrorCode::kInvalidArgument,
             "no size from %" PRIu64 " to %" PRIu64
             " bytes holds a whole %zu-byte element%s; "
             "the smallest %s of %d ranks is %" PRIu64 " bytes",
             o.minBytes, o.maxBytes, o.elemSize, perRank ? " per rank" : "",
             collectiveName(o.collective), n,
             static_cast<uint64_t>(o.elemSize) * (perRank ? static_cast<uint64_t>(n) : 1));
}

}  // namespace

std::string tuneReport(const topo::System& sys, const TuneReportOptions& o) {
  if (o.elemSize == 0) throwError(ErrorCode::kInvalidArgument, "tune report: element size 0");
  // A barrier moves no data: one row, time only (no size, algbw or busbw).
  const bool timeOnly = o.collective == Collective::kBarrier;
  const TopologyCosts costs = costsFromSystem(sys, o.nranks);
  const int n = place(sys, o.nranks).nranks;
  TuneRequest q;
  q.collective = o.collective;
  q.nranks = n;
  q.elemSize = o.elemSize;
  q.groups = groupsFromSystem(sys, o.nranks);
  q.fifoElems = o.fifoBytes / o.elemSize;
  const int factor = std::max(2, o.stepFactor);
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::string text =
      timeOnly
          ? formatString("# %s, %d ranks\n# costs: %s\n", collectiveName(o.collective), n,
                         costs.description.c_str())
          : formatString("# %s, %d ranks, %zu-byte elements\n# costs: %s\n",
                         collectiveName(o.collective), n, o.elemSize, costs.description.c_str());
  const bool perRank = callBytes(o.collective, n, 1, 1) > 1;
  for (uint64_t bytes = std::max<uint64_t>(o.minBytes, o.elemSize); bytes <= o.maxBytes;
       bytes *= static_cast<uint64_t>(factor)) {
    q.count = perRank ? bytes / o.elemSize / static_cast<uint64_t>(n) : bytes / o.elemSize;
    if (q.count == 0) continue;
    const TuneResult r = evaluate(q, costs);
    if (rows.empty()) text += reportHeader(r, timeOnly);
    rows.push_back(reportRow(q, r, timeOnly, text));
    if (timeOnly) break;
  }
  if (rows.empty()) throwNoSize(o, n);
  if (o.json) {
    nlohmann::ordered_json j;
    j["collective"] = collectiveName(o.collective);
    j["nranks"] = n;
    if (!timeOnly) j["elem_size"] = o.elemSize;
    j["costs"] = costs.description;
    j["rows"] = rows;
    return j.dump(1) + "\n";
  }
  return text;
}

}  // namespace plexus::algo
