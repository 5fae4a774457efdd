// Socket helpers: addresses, interface selection, connect/accept/transfer with deadlines.
#include "base/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "base/random.hpp"

namespace plexus {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr* sa, socklen_t len) {
  SocketAddress a;
  std::memcpy(&a.storage, sa, len);
  a.length = len;
  return a;
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view hostPort) {
  std::string s(hostPort);
  std::string host, port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return std::nullopt;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (host.empty() || port.empty()) return std::nullopt;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr)
    return std::nullopt;
  SocketAddress a = fromSockaddr(res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return a;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SocketAddress::setPort(uint16_t p) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(p);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(p);
}

bool SocketAddress::isLoopback() const {
  if (family() == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr) >> 24) == 127;
  if (family() == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr);
  return false;
}

std::string SocketAddress::hostString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof(buf));
  else if (family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof(buf));
  else
    return "<no address>";
  return buf;
}

std::string SocketAddress::toString() const {
  if (family() == AF_INET6) return "[" + hostString() + "]:" + std::to_string(port());
  return hostString() + ":" + std::to_string(port());
}

bool interfaceMatches(std::string_view spec, std::string_view name) {
  bool exclude = false, exact = false;
  if (!spec.empty() && spec[0] == '^') {
    exclude = true;
    spec.remove_prefix(1);
  }
  if (!spec.empty() && spec[0] == '=') {
    exact = true;
    spec.remove_prefix(1);
  }
  bool matched = false;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view tok = spec.substr(0, comma);
    // An optional ":port" suffix (NCCL allows it) is ignored for name matching.
    tok = tok.substr(0, tok.find(':'));
    if (!tok.empty()) {
      if (exact ? name == tok : name.substr(0, tok.size()) == tok) matched = true;
    }
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return exclude ? !matched : matched;
}

std::vector<NetInterface> listInterfaces() {
  std::vector<NetInterface> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    throwSystemError(errno, "getifaddrs failed listing network interfaces");
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || !(it->ifa_flags & IFF_UP)) continue;
    int fam = it->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    if (fam == AF_INET6) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(it->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;
    }
    NetInterface ni;
    ni.name = it->ifa_name;
    ni.address = SocketAddress::fromSockaddr(
        it->ifa_addr, fam == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    ni.loopback = (it->ifa_flags & IFF_LOOPBACK) != 0;
    out.push_back(ni);
  }
  freeifaddrs(list);
  // IPv4 first, keep kernel order otherwise.
  std::stable_partition(out.begin(), out.end(),
                        [](const NetInterface& n) { return n.address.family() == AF_INET; });
  return out;
}

std::vector<NetInterface> selectInterfaces() {
  std::vector<NetInterface> all = listInterfaces();
  std::string family = envString("SOCKET_FAMILY", "");
  if (!family.empty() && family != "AF_INET" && family != "AF_INET6")
    throwError(ErrorCode::kInvalidArgument,
               "PLEXUS_SOCKET_FAMILY (or NCCL_SOCKET_FAMILY)='%s' is not a socket family: set "
               "AF_INET (IPv4 only) or AF_INET6 (IPv6 only), or unset it for both",
               family.c_str());
  auto familyOk = [&](const NetInterface& n) {
    if (family == "AF_INET") return n.address.family() == AF_INET;
    if (family == "AF_INET6") return n.address.family() == AF_INET6;
    return true;
  };
  std::vector<NetInterface> out;
  if (auto spec = envGet("SOCKET_IFNAME")) {
    for (const auto& n : all)
      if (familyOk(n) && interfaceMatches(*spec, n.name)) out.push_back(n);
    if (out.empty())
      throwError(ErrorCode::kInvalidArgument,
                 "no network interface matches PLEXUS_SOCKET_IFNAME='%s'; check the names with "
                 "'ip addr' (syntax: prefixes, ^ to exclude, = for exact names)",
                 spec->c_str());
    return out;
  }
  for (const auto& n : all)
    if (familyOk(n) && !n.loopback && !interfaceMatches("docker", n.name)) out.push_back(n);
  if (out.empty())
    for (const auto& n : all)
      if (familyOk(n) && n.loopback) out.push_back(n);
  if (out.empty())
    throwError(ErrorCode::kSystem, "no usable network interface is up (not even lo)");
  return out;
}

void setNonBlocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0) throwSystemError(errno, "fcntl(F_GETFL) failed");
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) < 0) throwSystemError(errno, "fcntl(F_SETFL) failed");
}

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

Fd listenOn(SocketAddress& address, int backlog) {
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    throwSystemError(errno, "socket() failed for listening on %s", address.toString().c_str());
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), address.sa(), address.length) != 0)
    throwSystemError(errno, "bind to %s failed; check PLEXUS_SOCKET_IFNAME and free ports",
                     address.toString().c_str());
  if (::listen(fd.get(), backlog) != 0)
    throwSystemError(errno, "listen on %s failed", address.toString().c_str());
  address = localAddress(fd.get());
  return fd;
}

SocketAddress localAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    throwSystemError(errno, "getsockname failed");
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

namespace {
bool aborted(const std::atomic<bool>* abort) {
  return abort != nullptr && abort->load(std::memory_order_relaxed);
}

// connectTo's loop; with `refusedGrace` set, an empty Fd once refusals went on that long.
Fd connectRetrying(const SocketAddress& address, Deadline deadline, const std::atomic<bool>* abort,
                   const std::string& what, std::optional<std::chrono::milliseconds> refusedGrace) {
  int lastErr = 0;
  int backoffMs = 1;
  int refusals = 0;  // in a row
  Clock::time_point refusedSince{};
  while (true) {
    if (aborted(abort))
      throwError(ErrorCode::kRemote, "connect to %s (%s) aborted", what.c_str(),
                 address.toString().c_str());
    Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throwSystemError(errno, "socket() failed connecting to %s", what.c_str());
    int rc = ::connect(fd.get(), address.sa(), address.length);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd.get(), POLLOUT, 0};
      int prc = ::poll(&p, 1, deadline.remainingMs(100));
      if (prc > 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        rc = -1;
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      setNonBlocking(fd.get(), false);
      setNoDelay(fd.get());
      return fd;
    }
    lastErr = errno;
    if (lastErr != ECONNREFUSED) {
      refusals = 0;
    } else if (refusals++ == 0) {
      refusedSince = Clock::now();
    } else if (refusedGrace && refusals >= 3 && Clock::now() - refusedSince >= *refusedGrace) {
      return Fd();
    }
    if (lastErr != ECONNREFUSED && lastErr != ETIMEDOUT && lastErr != EHOSTUNREACH &&
        lastErr != ENETUNREACH && lastErr != EAGAIN && lastErr != ECONNRESET && lastErr != EINTR)
      throwSystemError(lastErr, "connect to %s at %s failed", what.c_str(),
                       address.toString().c_str());
    if (deadline.expired())
      throwError(ErrorCode::kRemote,
                 "could not connect to %s at %s before the timeout (last error: %s); check that "
                 "it is running and reachable, and PLEXUS_TIMEOUT / PLEXUS_SOCKET_IFNAME",
                 what.c_str(), address.toString().c_str(), std::strerror(lastErr));
    // Jittered back-off: ranks refused together (a full accept queue) do not retry together.
    const int sleepUs = backoffMs * 500 + static_cast<int>(randomU64() % (backoffMs * 500 + 1));
    ::usleep(static_cast<useconds_t>(std::min(sleepUs, deadline.remainingMs(100) * 1000)));
    backoffMs = std::min(backoffMs * 2, 100);
  }
}

}  // namespace

Fd connectTo(const SocketAddress& address, Deadline deadline, const std::atomic<bool>* abort,
             const std::string& what) {
  return connectRetrying(address, deadline, abort, what, std::nullopt);
}

Fd connectToListener(const SocketAddress& address, Deadline deadline,
                     const std::atomic<bool>* abort, const std::string& what,
                     std::chrono::milliseconds refusedGrace) {
  return connectRetrying(address, deadline, abort, what, refusedGrace);
}

Fd acceptOne(int listenFd, Deadline deadline, const std::atomic<bool>* abort) {
  while (!aborted(abort)) {
    pollfd p{listenFd, POLLIN, 0};
    int prc = ::poll(&p, 1, deadline.remainingMs(100));
    if (prc > 0) {
      int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        setNoDelay(fd);
        return Fd(fd);
      }
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        throwSystemError(errno, "accept failed");
    }
    if (deadline.expired()) break;
  }
  return Fd();
}

void sendAll(int fd, const void* data, size_t size, Deadline deadline,
             const std::atomic<bool>* abort, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      throwError(ErrorCode::kRemote, "send to %s failed: %s (the peer may have exited)",
                 what.c_str(), std::strerror(errno));
    if (aborted(abort)) throwError(ErrorCode::kRemote, "send to %s aborted", what.c_str());
    if (deadline.expired())
      throwError(ErrorCode::kRemote, "send to %s timed out (PLEXUS_TIMEOUT)", what.c_str());
    pollfd pfd{fd, POLLOUT, 0};
    ::poll(&pfd, 1, deadline.remainingMs(100));
  }
}

void recvAll(int fd, void* data, size_t size, Deadline deadline, const std::atomic<bool>* abort,
             const std::string& what) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::recv(fd, p, size, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0)
      throwError(ErrorCode::kRemote, "%s closed the connection (the peer exited or failed)",
                 what.c_str());
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      throwError(ErrorCode::kRemote, "receive from %s failed: %s", what.c_str(),
                 std::strerror(errno));
    if (aborted(abort)) throwError(ErrorCode::kRemote, "receive from %s aborted", what.c_str());
    if (deadline.expired())
      throwError(ErrorCode::kRemote, "receive from %s timed out (PLEXUS_TIMEOUT)", what.c_str());
    pollfd pfd{fd, POLLIN, 0};
    ::poll(&pfd, 1, deadline.remainingMs(100));
  }
}

void attachFds(msghdr& msg, void* control, size_t controlBytes, std::span<const int> fds) {
  if (fds.empty()) return;
  const size_t need = CMSG_SPACE(sizeof(int) * fds.size());
  if (need > controlBytes)
    throwError(ErrorCode::kInternal, "attachFds: %zu descriptors need %zu control bytes, %zu given",
               fds.size(), need, controlBytes);
  msg.msg_control = control;
  msg.msg_controllen = need;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
}

std::vector<Fd> takeReceivedFds(msghdr& msg) {
  std::vector<Fd> out;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      out.emplace_back(got);
    }
  }
  return out;
}

}  // namespace plexus
