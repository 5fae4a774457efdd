// The INFO lines a communicator prints at init, one line per event, for operators who grep them as
// they grep NCCL's (docs/logs.md): the build, "Init START" with the communicator's identity, the
// transport chosen per peer (or a count per transport at large N), the ring order of each channel
// and this rank's place in the two trees, and "Init COMPLETE" with the init time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace plexus::runtime {

// Per-peer transport lines are printed at INFO up to this many ranks, beyond it at TRACE only
// (with a count per transport at INFO).
constexpr int kPerPeerInfoRanks = 16;
// Ring orders longer than this are cut with "..." (the first and last ranks are kept).
constexpr int kRingPrintRanks = 64;

struct InitIdentity {
  const void* comm = nullptr;
  int rank = 0;
  int nranks = 0;
  std::string host;
  int pid = 0;
  uint64_t commId = 0;
};

// "Plexus 0.1.0 (git ..., RelWithDebInfo, CUDA yes)" and "comm 0x.. rank R nranks N host H pid P
// commId 0x.. - Init START".
void logInitStart(const InitIdentity& who);
// One line per ring: "channel 00/02 ring: 0 1 2 3"; then this rank's parent and children in the
// two binary trees of the tree algorithms.
void logChannels(const InitIdentity& who, const std::vector<std::vector<int>>& rings);
// "comm 0x.. rank R nranks N hosts H localRanks L - Init COMPLETE, init time 0.084 s".
void logInitComplete(const InitIdentity& who, int nhosts, int localRanks, double seconds);

// "1 2 3 ... 575" from a rank order, at most kRingPrintRanks ranks written.
std::string compactOrder(const std::vector<int>& order);

}  // namespace plexus::runtime
