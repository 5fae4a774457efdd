// The bootstrap's links between ranks: rank r connects to ranks r + 2^k and accepts ranks r - 2^k
// (k = 0..ceil(log2 N)-1, modulo N), at the start of every all-gather and barrier, which closes
// them at its end. Round k receives on link k to r + 2^k and sends on link k from r - 2^k.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "base/deadline.hpp"
#include "base/socket.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::runtime {

// ceil(log2 nranks): the rounds of an all-gather (0 for one rank).
int bootstrapRounds(int nranks);
// The rank `2^round` away from `rank`: ahead (+1, the one it connects to) or behind (-1).
int bootstrapPeer(int rank, int nranks, int round, int direction);

struct BootstrapLink {
  Fd fd;
  int peer = -1;
  std::string address;  // the peer's bootstrap listener
  // "rank P (bootstrap ADDRESS)", for errors.
  std::string name() const;
};

struct LinkSetup {
  int rank = 0;
  int nranks = 1;
  uint64_t commId = 0;
  Secret secret{};
  const std::atomic<bool>* abort = nullptr;
};

// Connects to the listeners `ahead[k]` of ranks rank + 2^k, one after the other, and introduces
// this rank on each. Throws naming the peer that was not reached by `deadline`.
std::vector<BootstrapLink> connectLinks(const LinkSetup& s, const std::vector<SocketAddress>& ahead,
                                        Deadline deadline);

// Accepts, on `listener` (bound to `listenAddress`), the link of every rank rank - 2^k (whose
// listeners are `behind[k]`, named in errors), dropping connections that do not present this job's
// secret and an expected rank and round. Throws naming a rank that never connected by `deadline`.
std::vector<BootstrapLink> acceptLinks(const LinkSetup& s, int listener,
                                       const SocketAddress& listenAddress,
                                       const std::vector<SocketAddress>& behind, Deadline deadline);

// Ranks that connect to the root at once, before the next group starts (half the listen backlog
// the kernel grants: /proc/sys/net/core/somaxconn caps listen()'s), and the pause before this
// rank's group may connect: hundreds of ranks never overflow the root's accept queue.
std::chrono::milliseconds rootConnectDelay(int rank);

}  // namespace plexus::runtime
