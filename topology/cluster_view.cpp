// ClusterView: host grouping and the sharing queries over gathered rank summaries.
#include "topology/cluster_view.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "base/error.hpp"
#include "base/host_id.hpp"

namespace plexus::topo {
namespace {

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
[[noreturn]] void bad(const char* what, size_t size) {
  throwError(ErrorCode::kInvalidArgument,
             "rank summary (%zu bytes) is malformed: %s; are all ranks running the same Plexus "
             "version?",
             size, what);
}

}  // namespace

std::string RankSummary::serialize() const {
  std::string out;
  putU32(out, static_cast<uint32_t>(rank));
  putU64(out, hostHash);
  putU32(out, static_cast<uint32_t>(hostname.size()));
  out += hostname;
  out += summary.serialize();
  return out;
}

RankSummary RankSummary::deserialize(std::string_view b) {
  if (b.size() < 16) bad("shorter than its header", b.size());
  auto u32 = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(b[at + i])) << (8 * i);
    return v;
  };
  RankSummary r;
  r.rank = static_cast<int>(u32(0));
  if (r.rank < 0) bad("negative rank", b.size());
  for (int i = 0; i < 8; ++i)
    r.hostHash |= static_cast<uint64_t>(static_cast<uint8_t>(b[4 + i])) << (8 * i);
  const uint32_t n = u32(12);
  if (n > 1024 || 16 + n > b.size()) bad("host name length out of range", b.size());
  r.hostname = std::string(b.substr(16, n));
  r.summary = HostSummary::deserialize(b.substr(16 + n));
  return r;
}

RankSummary makeRankSummary(int rank, int localRank, const System& system) {
  RankSummary r;
  r.rank = rank;
  r.hostHash = hostHash();
  r.hostname = hostName();
  r.summary = summarizeLocal(system, localRank);
  return r;
}

ClusterView::ClusterView(std::vector<RankSummary> ranks) {
  const size_t n = ranks.size();
  if (n == 0) throwError(ErrorCode::kInvalidArgument, "cluster view: no ranks");
  ranks_.resize(n);
  std::vector<uint8_t> seen(n, 0);
  for (RankSummary& r : ranks) {
    if (r.rank < 0 || static_cast<size_t>(r.rank) >= n)
      throwError(ErrorCode::kInvalidArgument, "cluster view: rank %d out of range 0..%zu", r.rank,
                 n - 1);
    if (seen[static_cast<size_t>(r.rank)])
      throwError(ErrorCode::kInvalidArgument, "cluster view: rank %d appears twice", r.rank);
    seen[static_cast<size_t>(r.rank)] = 1;
    const size_t at = static_cast<size_t>(r.rank);
    ranks_[at] = std::move(r);
  }
  std::map<uint64_t, int> hostIndex;
  hostOfRank_.resize(n);
  localRank_.resize(n);
  for (size_t r = 0; r < n; ++r) {
    auto [it, fresh] = hostIndex.emplace(ranks_[r].hostHash, static_cast<int>(hosts_.size()));
    if (fresh) hosts_.emplace_back();
    hostOfRank_[r] = it->second;
    localRank_[r] = static_cast<int>(hosts_[static_cast<size_t>(it->second)].size());
    hosts_[static_cast<size_t>(it->second)].push_back(static_cast<int>(r));
  }
}

void ClusterView::check(int rank, const char* what) const {
  if (rank < 0 || rank >= nranks())
    throwError(ErrorCode::kInvalidArgument, "cluster view: %s: rank %d out of range 0..%d", what,
               rank, nranks() - 1);
}

const RankSummary& ClusterView::rank(int r) const {
  check(r, "rank");
  return ranks_[static_cast<size_t>(r)];
}

int ClusterView::hostOf(int r) const {
  check(r, "hostOf");
  return hostOfRank_[static_cast<size_t>(r)];
}

const std::vector<int>& ClusterView::ranksOnHost(int host) const {
  if (host < 0 || host >= nhosts())
    throwError(ErrorCode::kInvalidArgument, "cluster view: host %d out of range 0..%d", host,
               nhosts() - 1);
  return hosts_[static_cast<size_t>(host)];
}

const std::string& ClusterView::hostName(int host) const {
  return ranks_[static_cast<size_t>(ranksOnHost(host).front())].hostname;
}

int ClusterView::localRank(int r) const {
  check(r, "localRank");
  return localRank_[static_cast<size_t>(r)];
}

int ClusterView::localSize(int r) const {
  return static_cast<int>(ranksOnHost(hostOf(r)).size());
}

bool ClusterView::sameHost(int a, int b) const {
  return hostOf(a) == hostOf(b);
}

bool ClusterView::sameNvlinkDomain(int a, int b) const {
  const HostSummary& x = rank(a).summary;
  const HostSummary& y = rank(b).summary;
  if (x.nvlinkDomain == 0 || x.nvlinkDomain != y.nvlinkDomain) return false;
  if (x.nvlinkFabric && y.nvlinkFabric) return true;
  return sameHost(a, b);
}

bool ClusterView::samePciSwitch(int a, int b) const {
  const HostSummary& x = rank(a).summary;
  const HostSummary& y = rank(b).summary;
  return sameHost(a, b) && x.pciSwitch != 0 && x.pciSwitch == y.pciSwitch;
}

bool ClusterView::sameRail(int a, int b) const {
  const HostSummary& x = rank(a).summary;
  const HostSummary& y = rank(b).summary;
  return x.rail >= 0 && x.rail == y.rail;
}

std::vector<std::vector<int>> ClusterView::nvlinkDomains() const {
  std::vector<std::vector<int>> groups;
  std::vector<int> groupOf(static_cast<size_t>(nranks()), -1);
  for (int r = 0; r < nranks(); ++r) {
    if (groupOf[static_cast<size_t>(r)] >= 0) continue;
    groupOf[static_cast<size_t>(r)] = static_cast<int>(groups.size());
    groups.push_back({r});
    for (int s = r + 1; s < nranks(); ++s) {
      if (groupOf[static_cast<size_t>(s)] < 0 && sameNvlinkDomain(r, s)) {
        groupOf[static_cast<size_t>(s)] = groupOf[static_cast<size_t>(r)];
        groups.back().push_back(s);
      }
    }
  }
  return groups;
}

std::vector<int> ClusterView::ringOrder() const {
  std::vector<int> order;
  order.reserve(ranks_.size());
  for (const auto& h : hosts_) order.insert(order.end(), h.begin(), h.end());
  return order;
}

std::string ClusterView::describe() const {
  std::string out = std::to_string(nranks()) + (nranks() == 1 ? " rank" : " ranks") + " on " +
                    std::to_string(nhosts()) + (nhosts() == 1 ? " host" : " hosts");
  const auto domains = nvlinkDomains();
  size_t nvGroups = 0;
  for (const auto& g : domains)
    if (rank(g.front()).summary.nvlinkDomain != 0) ++nvGroups;
  if (nvGroups > 0) out += ", " + std::to_string(nvGroups) + " NVLink domain(s)";
  out += "\n";
  for (int h = 0; h < nhosts(); ++h) {
    const auto& rs = hosts_[static_cast<size_t>(h)];
    const HostSummary& s = ranks_[static_cast<size_t>(rs.front())].summary;
    out += "  host " + std::to_string(h) + " " + hostName(h) + ": ranks ";
    // Compact rank list "0-3,8".
    for (size_t i = 0; i < rs.size();) {
      size_t j = i;
      while (j + 1 < rs.size() && rs[j + 1] == rs[j] + 1) ++j;
      if (i) out += ",";
      out += std::to_string(rs[i]);
      if (j > i) out += "-" + std::to_string(rs[j]);
      i = j + 1;
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "; %u NUMA, %u cores, %u GPUs, %zu NICs up", s.numaNodes,
                  s.cores, s.gpuCount, s.nics.size());
    out += buf;
    if (!s.nicName.empty()) {
      std::snprintf(buf, sizeof buf, " (rank %d uses %s, %.0f Gb/s)", rs.front(), s.nicName.c_str(),
                    static_cast<double>(s.nicGbps));
      out += buf;
    }
    out += "\n";
  }
  return out;
}

}  // namespace plexus::topo
