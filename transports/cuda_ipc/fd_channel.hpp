// File-descriptor passing between the ranks of one host: the channel over which the cuda-ipc
// transport hands a peer the POSIX descriptor of a cuMem allocation (and the shm transport's kind
// of memfd), so that no memory is ever named in /dev/shm or on disk.
//
// A channel is a SOCK_SEQPACKET Unix socket in the abstract namespace ("@plexus-ipc-<id>-<rank>"
// as `ss -x` shows it): no file is created, the name vanishes with the listening socket, and a
// SIGKILLed process leaves nothing behind. Abstract names are per network namespace, which is
// what Plexus calls a host (base/host_id.hpp), so ranks that count as one host can always reach
// each other. Each rank listens on the name of (channel id, rank); the other ranks connect, say
// who they are (hello with channel id and rank), and both ends read the other's pid and uid from
// the kernel (SO_PEERCRED): a process of another user is refused. Messages keep their boundaries:
// a tag, up to kMaxBytes of payload and up to kMaxFds descriptors (SCM_RIGHTS).
//
// Every wait is bounded by a Deadline and can be aborted through an atomic flag (checked at least
// every 100 ms). A peer that exits or is killed closes its end: the survivor's wait fails at once
// with Error(kRemote) naming the peer rank and pid, not at the timeout.
//
// Nothing here needs a GPU, and it is built with and without CUDA.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/deadline.hpp"
#include "base/socket.hpp"

namespace plexus::transport::cuda_ipc {

constexpr size_t kMaxFdMessageBytes = 4096;
constexpr size_t kMaxFdsPerMessage = 16;

struct FdMessage {
  uint32_t tag = 0;
  std::vector<uint8_t> bytes;
  std::vector<Fd> fds;  // received descriptors, owned (close-on-exec)
};

// One connected pair of ranks.
class FdChannel {
 public:
  FdChannel() = default;
  FdChannel(Fd fd, int selfRank, int peerRank, pid_t peerPid);

  bool valid() const { return static_cast<bool>(fd_); }
  int selfRank() const { return selfRank_; }
  int peerRank() const { return peerRank_; }
  pid_t peerPid() const { return peerPid_; }
  // "peer rank 3 (pid 1234)", for messages.
  const std::string& peerName() const { return peerName_; }
  int fd() const { return fd_.get(); }

  // Sends a message; the descriptors stay open here (the peer gets duplicates). Throws
  // Error(kInvalidArgument) for too many bytes or descriptors, Error(kRemote) naming the peer when
  // it has gone or the deadline passes.
  void send(uint32_t tag, std::span<const uint8_t> bytes, std::span<const int> fds,
            Deadline deadline, const std::atomic<bool>* abort = nullptr);
  // Receives the next message. Throws Error(kRemote) naming the peer when it closed its end
  // (exited, killed), at the deadline, on abort, or for a malformed message (its descriptors are
  // closed).
  FdMessage receive(Deadline deadline, const std::atomic<bool>* abort = nullptr);
  // Receives the next message and checks its tag; `what` says what was expected, for errors.
  FdMessage receiveTagged(uint32_t tag, const char* what, Deadline deadline,
                          const std::atomic<bool>* abort = nullptr);
  // True when the peer has closed its end (no wait).
  bool peerClosed() const;

 private:
  Fd fd_;
  int selfRank_ = -1;
  int peerRank_ = -1;
  pid_t peerPid_ = 0;
  std::string peerName_;
};

// The listening end of one rank.
class FdListener {
 public:
  FdListener() = default;
  // Listens on "@plexus-ipc-<channelId>-<rank>". Throws Error(kSystem) when the name is taken
  // (another process of this host uses the same channel id and rank).
  static FdListener listen(uint64_t channelId, int rank);
  // Accepts one peer and reads its hello. Throws Error(kRemote) at the deadline or on abort;
  // refuses (and goes on waiting past) a peer of another user or another channel id.
  FdChannel accept(Deadline deadline, const std::atomic<bool>* abort = nullptr);

  const std::string& name() const { return name_; }
  uint64_t channelId() const { return channelId_; }
  int rank() const { return rank_; }
  void close() { fd_.reset(); }

 private:
  Fd fd_;
  std::string name_;
  uint64_t channelId_ = 0;
  int rank_ = -1;
};

// The abstract socket name of a rank's listener, without the leading NUL.
std::string fdChannelName(uint64_t channelId, int rank);

// Connects to `peerRank`'s listener, retrying while nothing listens yet, and exchanges hellos.
// Throws Error(kRemote) naming the peer and the socket name at the deadline or on abort.
FdChannel connectFdChannel(uint64_t channelId, int selfRank, int peerRank, Deadline deadline,
                           const std::atomic<bool>* abort = nullptr);

// Channels from `selfRank` to every rank in `peers` (all on this host): connects to the lower
// ranks and accepts the higher ones on `listener` (which must listen as selfRank). Returns them by
// peer rank. Throws Error(kRemote) naming the peers still missing at the deadline.
std::map<int, FdChannel> connectFdMesh(FdListener& listener, int selfRank,
                                       std::span<const int> peers, Deadline deadline,
                                       const std::atomic<bool>* abort = nullptr);

}  // namespace plexus::transport::cuda_ipc
