// Abstract-namespace SOCK_SEQPACKET links with descriptor passing.
#include "transports/shm/local_link.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "base/error.hpp"

namespace plexus::transport::shm {
namespace {

constexpr size_t kMaxFds = 2;

socklen_t abstractAddress(uint64_t commId, int rank, sockaddr_un* a) {
  std::memset(a, 0, sizeof(*a));
  a->sun_family = AF_UNIX;
  std::string name = linkName(commId, rank);
  // Abstract: sun_path starts with NUL; the length, not a terminator, ends the name.
  std::memcpy(a->sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

}  // namespace

std::string linkName(uint64_t commId, int rank) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "plexus-%016" PRIx64 "-%d", commId, rank);
  return buf;
}

Fd listenLink(uint64_t commId, int rank) {
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throwSystemError(errno, "shm: socket(AF_UNIX) failed");
  sockaddr_un a;
  socklen_t len = abstractAddress(commId, rank, &a);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len) != 0)
    throwSystemError(errno,
                     "shm: rank %d cannot listen on the abstract Unix socket @%s (another process "
                     "of this host uses the same communicator id and rank?)",
                     rank, linkName(commId, rank).c_str());
  if (::listen(fd.get(), 4096) != 0) throwSystemError(errno, "shm: listen failed");
  return fd;
}

Fd acceptLink(int listenFd) {
  int c = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (c >= 0) return Fd(c);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
    return Fd();
  throwSystemError(errno, "shm: accept on the local link listener failed");
}

Fd connectLink(uint64_t commId, int rank, const std::string& who) {
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throwSystemError(errno, "shm: socket(AF_UNIX) failed");
  sockaddr_un a;
  socklen_t len = abstractAddress(commId, rank, &a);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), len) == 0) return fd;
  if (errno == EAGAIN || errno == EINTR) return Fd();
  if (errno == ECONNREFUSED || errno == ENOENT)
    throwError(ErrorCode::kRemote,
               "%s has exited or destroyed its communicator (nothing listens on @%s); check that "
               "rank's output for the cause",
               who.c_str(), linkName(commId, rank).c_str());
  throwSystemError(errno, "shm: connecting to %s failed", who.c_str());
}

void sendLink(int fd, const LinkMessage& m, const std::vector<int>& fds, const std::string& who) {
  iovec iov{const_cast<LinkMessage*>(&m), sizeof(m)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  attachFds(msg, control, sizeof(control), fds);
  for (;;) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(sizeof(m))) return;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // A few small messages never fill a link; wait briefly for room rather than fail.
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 1000) > 0 && (p.revents & POLLOUT) != 0) continue;
    }
    int e = n < 0 ? errno : EMSGSIZE;
    if (e == EPIPE || e == ECONNRESET || e == ENOTCONN)
      throwError(ErrorCode::kRemote, "%s has exited (its end of the shm link closed)", who.c_str());
    throwSystemError(e, "shm: sending to %s over the local link failed", who.c_str());
  }
}

LinkRead recvLink(int fd, LinkMessage* m, std::vector<Fd>* fds) {
  iovec iov{m, sizeof(*m)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return LinkRead::kNone;
    return LinkRead::kClosed;  // ECONNRESET and the like: the peer is gone
  }
  if (n == 0) return LinkRead::kClosed;
  *fds = takeReceivedFds(msg);
  if (n != static_cast<ssize_t>(sizeof(*m)) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0)
    m->magic = 0;  // the caller drops a malformed message
  return LinkRead::kMessage;
}

bool linkClosed(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace plexus::transport::shm
