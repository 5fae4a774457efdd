// How a rank reaches a local peer's device buffer, decided from what each rank publishes about
// itself (pid, GPU UUID) and whether the two GPUs may map each other (the topology's P2P decision,
// topology/gpu_peers.hpp, passed in by the layer that sees both). Several ranks may share one GPU
// and one process: nothing here assumes one device per rank.
#pragma once

#include <cstdint>
#include <string>

namespace plexus::transport::cuda_ipc {

// What a rank tells its local peers about itself.
struct LocalGpuRank {
  int rank = -1;
  int32_t pid = 0;
  uint8_t uuid[16] = {};  // the GPU it uses
};

enum class PeerRoute : uint8_t {
  kSameProcess,  // the peer's pointer is used as is (access granted when it is another GPU)
  kSameGpu,      // another process on the same GPU: import its cuMem fd (or legacy handle)
  kPeerToPeer,   // another process on another GPU with P2P: import, loads/stores cross the link
  kStaged,       // no P2P between the GPUs: copy through host memory
};

const char* peerRouteName(PeerRoute r);  // "same-process", "same-gpu", "p2p", "staged"

// `p2p` says whether the two GPUs may map each other; it matters only when they differ.
PeerRoute choosePeerRoute(const LocalGpuRank& self, const LocalGpuRank& peer, bool p2p);

}  // namespace plexus::transport::cuda_ipc
