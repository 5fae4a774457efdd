// Setting up fd channels: accepting with a hello, connecting with retries, a mesh of local ranks.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/cuda_ipc/fd_channel.hpp"

namespace plexus::transport::cuda_ipc {
namespace {

constexpr uint32_t kHelloMagic = 0x50584950;  // "PXIP"
constexpr uint32_t kVersion = 1;
constexpr int kHelloWaitMs = 2000;  // a connected peer sends its hello at once

struct Hello {
  uint32_t magic = kHelloMagic;
  uint32_t version = kVersion;
  uint64_t channelId = 0;
  int32_t rank = -1;
  int32_t peerRank = -1;
};

bool aborted(const std::atomic<bool>* abort) {
  return abort != nullptr && abort->load(std::memory_order_relaxed);
}

socklen_t abstractAddress(const std::string& name, sockaddr_un* a) {
  std::memset(a, 0, sizeof(*a));
  a->sun_family = AF_UNIX;
  std::memcpy(a->sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

ucred credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    throwSystemError(errno, "cuda-ipc: getsockopt(SO_PEERCRED) failed");
  return cred;
}

// Reads a newly accepted peer's hello; false (and the peer is dropped) when it is not one of ours.
bool readHello(int fd, const FdListener& l, int waitMs, Hello* h, std::string* why) {
  pollfd p{fd, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, waitMs);
  } while (rc < 0 && errno == EINTR);
  if (rc <= 0) {
    *why = formatString("sent no hello within %d ms", waitMs);
    return false;
  }
  const ssize_t n = ::recv(fd, h, sizeof(*h), MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(sizeof(*h)) || h->magic != kHelloMagic || h->version != kVersion) {
    *why = "sent a malformed hello (not a Plexus cuda-ipc peer, or another version)";
    return false;
  }
  if (h->channelId != l.channelId() || h->peerRank != l.rank()) {
    *why = formatString("belongs to channel %llx rank %d", (unsigned long long)h->channelId,
                        h->peerRank);
    return false;
  }
  return true;
}

}  // namespace

FdListener FdListener::listen(uint64_t channelId, int rank) {
  FdListener l;
  l.fd_ = Fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!l.fd_) throwSystemError(errno, "cuda-ipc: socket(AF_UNIX, SOCK_SEQPACKET) failed");
  l.name_ = fdChannelName(channelId, rank);
  l.channelId_ = channelId;
  l.rank_ = rank;
  sockaddr_un a;
  const socklen_t len = abstractAddress(l.name_, &a);
  if (::bind(l.fd_.get(), reinterpret_cast<sockaddr*>(&a), len) != 0)
    throwSystemError(errno,
                     "cuda-ipc: rank %d cannot listen on the abstract Unix socket @%s (another "
                     "process of this host uses the same channel id and rank?)",
                     rank, l.name_.c_str());
  if (::listen(l.fd_.get(), 1024) != 0)
    throwSystemError(errno, "cuda-ipc: listen on @%s failed", l.name_.c_str());
  return l;
}

FdChannel FdListener::accept(Deadline deadline, const std::atomic<bool>* abort) {
  if (!fd_) throwError(ErrorCode::kInvalidUsage, "cuda-ipc: accept on a closed listener");
  for (;;) {
    if (aborted(abort))
      throwError(ErrorCode::kRemote, "cuda-ipc: rank %d waiting for peers on @%s aborted", rank_,
                 name_.c_str());
    pollfd p{fd_.get(), POLLIN, 0};
    const int rc = ::poll(&p, 1, deadline.remainingMs(100));
    if (rc < 0 && errno != EINTR) throwSystemError(errno, "cuda-ipc: poll on @%s", name_.c_str());
    if (rc <= 0) {
      if (deadline.expired())
        throwError(ErrorCode::kRemote,
                   "cuda-ipc: rank %d waited on @%s for a peer to connect and none came within "
                   "the timeout; check that every local rank started and uses the same channel",
                   rank_, name_.c_str());
      continue;
    }
    Fd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!c) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      throwSystemError(errno, "cuda-ipc: accept on @%s failed", name_.c_str());
    }
    const ucred cred = credentials(c.get());
    Hello h;
    std::string why;
    if (cred.uid != ::geteuid())
      why = formatString("runs as uid %u, not %u", cred.uid, ::geteuid());
    else if (readHello(c.get(), *this, std::max(1, deadline.remainingMs(kHelloWaitMs)), &h, &why))
      return FdChannel(std::move(c), rank_, h.rank, cred.pid);
    PLEXUS_WARN(subsys::kInit, "cuda-ipc: rank %d refused a connection on @%s from pid %d: %s",
                rank_, name_.c_str(), static_cast<int>(cred.pid), why.c_str());
  }
}

FdChannel connectFdChannel(uint64_t channelId, int selfRank, int peerRank, Deadline deadline,
                           const std::atomic<bool>* abort) {
  const std::string name = fdChannelName(channelId, peerRank);
  sockaddr_un a;
  const socklen_t len = abstractAddress(name, &a);
  for (;;) {
    if (aborted(abort))
      throwError(ErrorCode::kRemote, "cuda-ipc: rank %d connecting to peer rank %d aborted",
                 selfRank, peerRank);
    Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd) throwSystemError(errno, "cuda-ipc: socket(AF_UNIX, SOCK_SEQPACKET) failed");
    // Blocking connect: on a local socket it returns at once (or EAGAIN when the backlog is full).
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), len) == 0) {
      const ucred cred = credentials(fd.get());
      if (cred.uid != ::geteuid())
        throwError(ErrorCode::kRemote,
                   "cuda-ipc: @%s (meant for peer rank %d) is held by pid %d of uid %u, not this "
                   "user; another job on this host uses the same channel id",
                   name.c_str(), peerRank, static_cast<int>(cred.pid), cred.uid);
      Hello h;
      h.channelId = channelId;
      h.rank = selfRank;
      h.peerRank = peerRank;
      if (::send(fd.get(), &h, sizeof(h), MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(h)))
        throwSystemError(errno, "cuda-ipc: rank %d sending its hello to peer rank %d (pid %d)",
                         selfRank, peerRank, static_cast<int>(cred.pid));
      const int flags = ::fcntl(fd.get(), F_GETFL);
      ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
      return FdChannel(std::move(fd), selfRank, peerRank, cred.pid);
    }
    const int e = errno;
    if (e != ECONNREFUSED && e != ENOENT && e != EAGAIN && e != EINTR)
      throwSystemError(e, "cuda-ipc: rank %d connecting to peer rank %d on @%s failed", selfRank,
                       peerRank, name.c_str());
    if (deadline.expired())
      throwError(
          ErrorCode::kRemote,
          "cuda-ipc: rank %d could not reach peer rank %d: nothing listened on @%s within "
          "the timeout; check that the rank started, is on this host and in the same "
          "network namespace (abstract sockets are per namespace), and uses the same channel",
          selfRank, peerRank, name.c_str());
    ::usleep(static_cast<useconds_t>(std::min(deadline.remainingMs(), 10) * 1000));
  }
}

std::map<int, FdChannel> connectFdMesh(FdListener& listener, int selfRank,
                                       std::span<const int> peers, Deadline deadline,
                                       const std::atomic<bool>* abort) {
  if (listener.rank() != selfRank)
    throwError(ErrorCode::kInvalidArgument,
               "cuda-ipc: connectFdMesh for rank %d got the listener of rank %d", selfRank,
               listener.rank());
  std::map<int, FdChannel> out;
  size_t higher = 0;
  for (int p : peers) {
    if (p == selfRank) continue;
    if (p < selfRank)
      out.emplace(p, connectFdChannel(listener.channelId(), selfRank, p, deadline, abort));
    else
      ++higher;
  }
  for (size_t accepted = 0; accepted < higher;) {
    FdChannel c;
    try {
      c = listener.accept(deadline, abort);
    } catch (const Error& e) {
      std::string missing;
      for (int p : peers)
        if (p > selfRank && !out.count(p))
          missing += (missing.empty() ? "" : ",") + std::to_string(p);
      throwError(e.code(), "%s (ranks still missing: %s)", e.what(), missing.c_str());
    }
    const int from = c.peerRank();
    bool expected = false;
    for (int p : peers) expected = expected || (p == from && p > selfRank);
    if (!expected || out.count(from)) {
      PLEXUS_WARN(subsys::kInit, "cuda-ipc: rank %d dropped an unexpected connection from %s",
                  selfRank, c.peerName().c_str());
      continue;
    }
    out.emplace(from, std::move(c));
    ++accepted;
  }
  return out;
}

}  // namespace plexus::transport::cuda_ipc
