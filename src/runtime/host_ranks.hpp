// Who the ranks of a communicator are, as the one-host paths (the mapped executor, single copy)
// need it: each rank's host hash, pid and host name, by rank.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "transports/common/transport.hpp"

namespace plexus::runtime {

struct HostRanks {
  int rank = 0;
  int nranks = 1;
  std::vector<uint64_t> hostHashes;    // by rank
  std::vector<int> pids;               // by rank
  std::vector<std::string> hostNames;  // by rank (messages)
};

// The facts of `peers` (indexed by rank) as seen by `rank`.
inline HostRanks hostRanksOf(const std::vector<transport::PeerRecord>& peers, int rank) {
  HostRanks h;
  h.rank = rank;
  h.nranks = static_cast<int>(peers.size());
  for (const auto& p : peers) {
    h.hostHashes.push_back(p.hostHash);
    h.pids.push_back(p.pid);
    h.hostNames.push_back(p.hostName);
  }
  return h;
}

}  // namespace plexus::runtime
