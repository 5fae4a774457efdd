// A rank's self-description for the bootstrap all-gathers: first host identity, process, FIFO
// geometry, shared-memory budget and its local topology summary; then one address blob per
// transport (the transports are made for the geometry the first one settles). Encoded as JSON.
#pragma once

#include <map>
#include <string>

#include "transports/common/transport.hpp"

namespace plexus::runtime {

struct PeerInfo {
  transport::PeerRecord record;
  uint64_t machineHash = 0;     // base/host_id.hpp: the kernel this rank shares cores on
  transport::SlotConfig slots;  // as the environment asks
  uint64_t shmBudget = 0;       // PLEXUS_SHM_BUDGET as this rank sees it
  std::string topology;         // serialized topo::RankSummary
  // This rank's bootstrap listener, "host:port": ncclCommShrink meets over it.
  std::string bootstrapAddress;
};

std::string encodePeerInfo(const PeerInfo& info);
// Throws Error(kRemote) naming `fromRank` when the blob is malformed.
PeerInfo decodePeerInfo(const std::string& blob, int fromRank);

// The second all-gather: each transport's address blob, by transport name.
std::string encodeAddresses(const std::map<std::string, std::string>& addresses);
std::map<std::string, std::string> decodeAddresses(const std::string& blob, int fromRank);

}  // namespace plexus::runtime
