// The cluster as the algorithms see it: which ranks share a host, an NVLink domain, a PCIe
// switch, a NIC rail. Built by the communicator at init from every rank's RankSummary (its
// HostSummary plus host identity, gathered in the bootstrap all-gather).
//
// Typical use in the communicator:
//   topo::System local = topo::loadLocalSystem();  // PLEXUS_TOPO_FILE or discovery
//   std::string mine = topo::makeRankSummary(rank, localRank, local).serialize();
//   std::vector<std::string> all = /* bootstrap all-gather of `mine` */;
//   std::vector<topo::RankSummary> ranks;
//   for (const std::string& b : all) ranks.push_back(topo::RankSummary::deserialize(b));
//   topo::ClusterView view(std::move(ranks));  // view.ringOrder(), view.sameHost(a, b), ...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "topology/summary.hpp"

namespace plexus::topo {

struct RankSummary {
  int rank = 0;
  uint64_t hostHash = 0;  // plexus::hostHash(): equal = same machine (shared memory possible)
  std::string hostname;
  HostSummary summary;

  // Rank, host hash, host name and the HostSummary in one byte string.
  std::string serialize() const;
  static RankSummary deserialize(std::string_view bytes);  // throws Error(kInvalidArgument)
  bool operator==(const RankSummary&) const = default;
};

// This process's summary: hostHash()/hostName() of util plus summarizeLocal(system, localRank).
RankSummary makeRankSummary(int rank, int localRank, const System& system);

class ClusterView {
 public:
  // Ranks in any order; they must be 0..n-1, each once. Throws Error(kInvalidArgument).
  explicit ClusterView(std::vector<RankSummary> ranks);

  int nranks() const { return static_cast<int>(ranks_.size()); }
  int nhosts() const { return static_cast<int>(hosts_.size()); }
  const RankSummary& rank(int r) const;
  // Hosts are numbered by their lowest rank.
  int hostOf(int rank) const;
  const std::vector<int>& ranksOnHost(int host) const;  // in rank order
  const std::string& hostName(int host) const;
  int localRank(int rank) const;  // position among the ranks of its host
  int localSize(int rank) const;  // ranks on its host

  bool sameHost(int a, int b) const;
  // Both ranks use GPUs of one NVLink domain (same host, or a multi-node NVLink fabric).
  bool sameNvlinkDomain(int a, int b) const;
  // Same host and their GPUs sit under one PCIe switch.
  bool samePciSwitch(int a, int b) const;
  // Their NICs are on the same rail (same NIC position on a rail-optimized fabric).
  bool sameRail(int a, int b) const;

  // Ranks grouped by NVLink domain (each group in rank order, groups by lowest rank); ranks
  // without NVLink form groups of one.
  std::vector<std::vector<int>> nvlinkDomains() const;
  // Ranks of each host contiguous (in rank order), hosts in order.
  std::vector<int> ringOrder() const;
  // A few lines for logs: hosts, ranks per host, GPUs, NVLink domains, NICs.
  std::string describe() const;

 private:
  void check(int rank, const char* what) const;
  std::vector<RankSummary> ranks_;  // by rank
  std::vector<int> hostOfRank_;
  std::vector<int> localRank_;
  std::vector<std::vector<int>> hosts_;  // ranks per host
};

}  // namespace plexus::topo
