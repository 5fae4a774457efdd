// The route to a local peer's device buffer.
#include "transports/cuda_ipc/peer_route.hpp"

#include <cstring>

namespace plexus::transport::cuda_ipc {

const char* peerRouteName(PeerRoute r) {
  switch (r) {
    case PeerRoute::kSameProcess:
      return "same-process";
    case PeerRoute::kSameGpu:
      return "same-gpu";
    case PeerRoute::kPeerToPeer:
      return "p2p";
    case PeerRoute::kStaged:
      return "staged";
  }
  return "?";
}

PeerRoute choosePeerRoute(const LocalGpuRank& self, const LocalGpuRank& peer, bool p2p) {
  const bool sameGpu = std::memcmp(self.uuid, peer.uuid, sizeof(self.uuid)) == 0;
  if (!sameGpu && !p2p) return PeerRoute::kStaged;
  if (self.pid == peer.pid) return PeerRoute::kSameProcess;
  return sameGpu ? PeerRoute::kSameGpu : PeerRoute::kPeerToPeer;
}

}  // namespace plexus::transport::cuda_ipc
