// A rank's self-description for the bootstrap all-gather: host identity, process, FIFO geometry,
// one address blob per transport, and its local topology summary. Encoded as JSON.
#pragma once

#include <string>

#include "transports/common/transport.hpp"

namespace plexus::comm {

struct PeerInfo {
  transport::PeerRecord record;
  transport::SlotConfig slots;
  std::string topology;  // serialized topo::RankSummary
};

std::string encodePeerInfo(const PeerInfo& info);
// Throws Error(kRemote) naming `fromRank` when the blob is malformed.
PeerInfo decodePeerInfo(const std::string& blob, int fromRank);

}  // namespace plexus::comm
