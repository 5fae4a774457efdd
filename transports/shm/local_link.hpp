// The link between the shm transports of two ranks on one host: a SOCK_SEQPACKET Unix socket in
// the abstract namespace (no file: it vanishes with its process). Each rank listens on the name of
// (communicator id, rank); the lower rank of a pair connects. Over the link each side hands the
// other, per connection id, the descriptor of the FIFO it receives on and of its control block
// (SCM_RIGHTS), so no shared memory is ever named. The link is also the liveness signal: when a
// rank dies, however, the kernel closes its end and the peer sees POLLHUP at once.
// Only peers in OTHER processes use a link: a peer in the same process (ranks that are threads of
// one process) connects through the process-wide registry of inproc_registry.hpp, with no socket
// and no FIFO descriptor, since a socket end per pair exhausts the descriptor limit at hundreds of
// thread ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/socket.hpp"

namespace plexus::transport::shm {

// One message: "here is my receive FIFO for connection `connection`, and my control block".
struct LinkMessage {
  uint32_t magic = 0;
  uint32_t version = 0;
  uint8_t secret[16] = {};
  uint64_t commId = 0;
  int32_t from = -1;
  int32_t connection = -1;
  uint32_t slotBytes = 0;
  uint32_t slots = 0;
};

constexpr uint32_t kLinkMagic = 0x504c5853;  // "PLXS"
constexpr uint32_t kLinkVersion = 1;

// The abstract socket name of a rank's listener ("@plexus-<comm>-<rank>" as ss shows it).
std::string linkName(uint64_t commId, int rank);
// Listens on this rank's name; throws when the name is taken (another process uses this id).
Fd listenLink(uint64_t commId, int rank);
// A non-blocking accepted link, or an empty Fd when none is pending.
Fd acceptLink(int listenFd);
// Connects to `rank`'s listener. Returns an empty Fd while its backlog is full (try again);
// throws Error(kRemote) naming `who` when nothing listens (the rank has exited).
Fd connectLink(uint64_t commId, int rank, const std::string& who);
// Sends `m` with the descriptors (they stay open here). Throws Error(kRemote) naming `who` when
// the link is broken.
void sendLink(int fd, const LinkMessage& m, const std::vector<int>& fds, const std::string& who);

enum class LinkRead { kNone, kMessage, kClosed };
// Receives one message if one is waiting (non-blocking); its descriptors go to `fds`.
LinkRead recvLink(int fd, LinkMessage* m, std::vector<Fd>* fds);
// True when the other end of the link has gone (its process exited or closed it).
bool linkClosed(int fd);

}  // namespace plexus::transport::shm
