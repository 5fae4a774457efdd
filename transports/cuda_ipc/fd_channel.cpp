// Abstract-namespace SOCK_SEQPACKET channels with descriptor passing, deadlines and abort.
#include "transports/cuda_ipc/fd_channel.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "base/error.hpp"

namespace plexus::transport::cuda_ipc {
namespace {

constexpr uint32_t kMessageMagic = 0x50584d53;  // "PXMS"

struct Header {
  uint32_t magic = kMessageMagic;
  uint32_t tag = 0;
  uint32_t bytes = 0;
  uint32_t fds = 0;
};

bool aborted(const std::atomic<bool>* abort) {
  return abort != nullptr && abort->load(std::memory_order_relaxed);
}

std::string describePeer(int rank, pid_t pid) {
  return formatString("peer rank %d (pid %d)", rank, static_cast<int>(pid));
}

// Waits until `fd` shows `events`, the deadline passes or the flag is raised. Returns the revents
// (0 on deadline), throws on abort.
short waitFor(int fd, short events, Deadline deadline, const std::atomic<bool>* abort,
              const std::string& who, const char* doing) {
  for (;;) {
    if (aborted(abort))
      throwError(ErrorCode::kRemote, "cuda-ipc: %s %s aborted", doing, who.c_str());
    const int waitMs = deadline.remainingMs(100);
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, waitMs);
    if (rc > 0) return p.revents;
    if (rc < 0 && errno != EINTR) throwSystemError(errno, "cuda-ipc: poll failed");
    if (deadline.expired()) return 0;
  }
}

// Closes the descriptors of a message that is dropped.
void closeReceived(msghdr& msg) {
  (void)takeReceivedFds(msg);
}

}  // namespace

std::string fdChannelName(uint64_t channelId, int rank) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "plexus-ipc-%016" PRIx64 "-%d", channelId, rank);
  return buf;
}

FdChannel::FdChannel(Fd fd, int selfRank, int peerRank, pid_t peerPid)
    : fd_(std::move(fd)),
      selfRank_(selfRank),
      peerRank_(peerRank),
      peerPid_(peerPid),
      peerName_(describePeer(peerRank, peerPid)) {}

void FdChannel::send(uint32_t tag, std::span<const uint8_t> bytes, std::span<const int> fds,
                     Deadline deadline, const std::atomic<bool>* abort) {
  if (!fd_) throwError(ErrorCode::kInvalidUsage, "cuda-ipc: send on a closed fd channel");
  if (bytes.size() > kMaxFdMessageBytes || fds.size() > kMaxFdsPerMessage)
    throwError(ErrorCode::kInvalidArgument,
               "cuda-ipc: a message to %s carries %zu bytes and %zu descriptors; at most %zu and "
               "%zu fit",
               peerName_.c_str(), bytes.size(), fds.size(), kMaxFdMessageBytes, kMaxFdsPerMessage);
  Header h;
  h.tag = tag;
  h.bytes = static_cast<uint32_t>(bytes.size());
  h.fds = static_cast<uint32_t>(fds.size());
  iovec iov[2] = {{&h, sizeof(h)}, {const_cast<uint8_t*>(bytes.data()), bytes.size()}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)] = {};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = bytes.empty() ? 1 : 2;
  attachFds(msg, control, sizeof(control), fds);
  for (;;) {
    const ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(sizeof(h) + bytes.size())) return;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (waitFor(fd_.get(), POLLOUT, deadline, abort, peerName_, "sending to") == 0)
        throwError(ErrorCode::kRemote,
                   "cuda-ipc: rank %d could not send to %s within the timeout (its fd channel is "
                   "full: is that rank still reading?)",
                   selfRank_, peerName_.c_str());
      continue;
    }
    const int e = n < 0 ? errno : EMSGSIZE;
    if (e == EPIPE || e == ECONNRESET || e == ENOTCONN)
      throwError(ErrorCode::kRemote,
                 "cuda-ipc: %s has closed its fd channel (it exited or was killed) while rank %d "
                 "sent to it; check that rank's output for the cause",
                 peerName_.c_str(), selfRank_);
    throwSystemError(e, "cuda-ipc: rank %d sending to %s over the fd channel failed", selfRank_,
                     peerName_.c_str());
  }
}

FdMessage FdChannel::receive(Deadline deadline, const std::atomic<bool>* abort) {
  if (!fd_) throwError(ErrorCode::kInvalidUsage, "cuda-ipc: receive on a closed fd channel");
  const auto started = Clock::now();
  std::vector<uint8_t> buffer(sizeof(Header) + kMaxFdMessageBytes);
  for (;;) {
    iovec iov{buffer.data(), buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (waitFor(fd_.get(), POLLIN, deadline, abort, peerName_, "receiving from") == 0) {
        const auto waited =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        throwError(ErrorCode::kRemote,
                   "cuda-ipc: rank %d waited %lld ms for a message from %s over the fd channel and "
                   "got none; check that rank is alive and progressing (PLEXUS_TIMEOUT sets the "
                   "limit)",
                   selfRank_, static_cast<long long>(waited.count()), peerName_.c_str());
      }
      continue;
    }
    if (n <= 0)
      throwError(ErrorCode::kRemote,
                 "cuda-ipc: %s has closed its fd channel (it exited or was killed) while rank %d "
                 "waited for a message; check that rank's output for the cause",
                 peerName_.c_str(), selfRank_);
    Header h;
    const bool truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    if (static_cast<size_t>(n) >= sizeof(h)) std::memcpy(&h, buffer.data(), sizeof(h));
    if (truncated || static_cast<size_t>(n) < sizeof(h) || h.magic != kMessageMagic ||
        static_cast<size_t>(n) != sizeof(h) + h.bytes) {
      closeReceived(msg);
      throwError(ErrorCode::kRemote,
                 "cuda-ipc: rank %d received a malformed message (%zd bytes) from %s; are both "
                 "ranks the same Plexus version?",
                 selfRank_, n, peerName_.c_str());
    }
    FdMessage out;
    out.tag = h.tag;
    out.bytes.assign(buffer.begin() + sizeof(h), buffer.begin() + n);
    out.fds = takeReceivedFds(msg);
    if (out.fds.size() != h.fds)
      throwError(ErrorCode::kRemote,
                 "cuda-ipc: rank %d expected %u descriptors from %s and got %zu; check the "
                 "process's open-file limit (ulimit -n)",
                 selfRank_, h.fds, peerName_.c_str(), out.fds.size());
    return out;
  }
}

FdMessage FdChannel::receiveTagged(uint32_t tag, const char* what, Deadline deadline,
                                   const std::atomic<bool>* abort) {
  FdMessage m = receive(deadline, abort);
  if (m.tag != tag)
    throwError(ErrorCode::kInternal,
               "cuda-ipc: rank %d expected %s (tag %u) from %s and got tag %u; the two ranks "
               "disagree on the exchange order",
               selfRank_, what, tag, peerName_.c_str(), m.tag);
  return m;
}

bool FdChannel::peerClosed() const {
  if (!fd_) return true;
  pollfd p{fd_.get(), static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP)) != 0;
}

}  // namespace plexus::transport::cuda_ipc
