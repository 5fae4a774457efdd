// The bootstrap's links between ranks: rank r connects to ranks r + 2^k and accepts ranks r - 2^k
// (k = 0..ceil(log2 N)-1, modulo N), at the start of every all-gather and barrier, which closes
// them at its end. Round k receives on link k to r + 2^k and sends on link k from r - 2^k.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/deadline.hpp"
#include "base/socket.hpp"
#include "runtime/protocol.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::runtime {

// ceil(log2 nranks): the rounds of an all-gather (0 for one rank).
int bootstrapRounds(int nranks);
// The rank `2^round` away from `rank`: ahead (+1, the one it connects to) or behind (-1).
int bootstrapPeer(int rank, int nranks, int round, int direction);

// A peer's bootstrap listener and, where the root told (0 / "" where not), who runs it.
struct LinkPeer {
  SocketAddress address;
  std::string host;
  int pid = 0;
  uint64_t pidSpace = 0;  // bootstrapPidSpace() of the peer's process
};

struct BootstrapLink {
  Fd fd;
  int peer = -1;
  std::string address;  // the peer's bootstrap listener
  std::string host;     // "" when not known
  int pid = 0;
  uint64_t pidSpace = 0;
  // "rank P (host H, pid X, bootstrap ADDRESS)" ("rank P (bootstrap ADDRESS)" when the host is not
  // known), for errors.
  std::string name() const;
  // Where this process can see the peer's process (the same kernel and pid namespace) and it is
  // stopped or gone: "; rank P (pid X on this host) is stopped (SIGSTOP or a debugger)" and the
  // like, for a timeout's error. "" otherwise.
  std::string processState() const;
};

// Identifies this process's pid namespace on this kernel (boot id and /proc/self/ns/pid): ranks
// with the same value can look one another's pids up in /proc. Never 0.
uint64_t bootstrapPidSpace();

// How long a peer's listener, which existed once its rank joined, may refuse connections before
// the rank counts as gone (its process exited or was killed): a few retries, not PLEXUS_TIMEOUT.
constexpr std::chrono::milliseconds kListenerRefusedGrace{1500};

struct LinkSetup {
  int rank = 0;
  int nranks = 1;
  uint64_t commId = 0;
  Secret secret{};
  const std::atomic<bool>* abort = nullptr;
};

// Connects to the listeners `ahead[k]` of ranks rank + 2^k, one after the other, and introduces
// this rank on each. Throws naming the peer that was not reached by `deadline`.
// The introduction of this rank's link of round `round`.
LinkHello linkHello(const LinkSetup& s, size_t round);

// A refused connection to a listener (after kListenerRefusedGrace) throws at once, naming the rank
// as gone; on any failure the ranks ahead are told why first (tellGivingUp).
std::vector<BootstrapLink> connectLinks(const LinkSetup& s, const std::vector<LinkPeer>& ahead,
                                        Deadline deadline);

// Accepts, on `listener` (bound to `listenAddress`), the link of every rank rank - 2^k (whose
// listeners are `behind[k]`, named in errors), dropping connections that do not present this job's
// secret and an expected rank and round. Throws naming a rank that never connected by `deadline`,
// or at once when a rank behind closes its link or says that it gives up (tellGivingUp).
// Meanwhile it watches `ahead` (the links this rank made in the call): a peer that resets or
// closes one is gone (its listener dropped the link this rank made just before it died).
std::vector<BootstrapLink> acceptLinks(const LinkSetup& s, int listener,
                                       const SocketAddress& listenAddress,
                                       const std::vector<LinkPeer>& behind,
                                       const std::vector<BootstrapLink>& ahead, Deadline deadline);

// Ranks that connect to the root at once, before the next group starts (half the listen backlog
// the kernel grants: /proc/sys/net/core/somaxconn caps listen()'s), and the pause before this
// rank's group may connect: hundreds of ranks never overflow the root's accept queue.
std::chrono::milliseconds rootConnectDelay(int rank);

}  // namespace plexus::runtime
