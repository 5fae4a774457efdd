// Sockets for bootstrap and the TCP transport: addresses, interface selection with NCCL's
// PLEXUS_SOCKET_IFNAME syntax, and blocking helpers that honour a deadline and an abort flag.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/deadline.hpp"

namespace plexus {

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  // "1.2.3.4:5000", "[::1]:5000" or "hostname:5000".
  static std::optional<SocketAddress> parse(std::string_view hostPort);
  static SocketAddress fromSockaddr(const sockaddr* sa, socklen_t len);
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  void setPort(uint16_t port);
  bool isLoopback() const;
  std::string toString() const;    // "1.2.3.4:5000" / "[::1]:5000"
  std::string hostString() const;  // without the port
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

struct NetInterface {
  std::string name;
  SocketAddress address;  // port 0
  bool loopback = false;
};

// True if interface `name` is selected by `spec` in NCCL syntax: "eth,ib" prefixes;
// "^docker,lo" excludes prefixes; "=eth0" exact names; "^=eth0" excludes exact names.
bool interfaceMatches(std::string_view spec, std::string_view name);

// All up interfaces with an IPv4 or (non link-local) IPv6 address.
std::vector<NetInterface> listInterfaces();

// Interfaces to use for bootstrap/TCP: PLEXUS_SOCKET_IFNAME and PLEXUS_SOCKET_FAMILY applied;
// default: all but lo and docker*, or lo when nothing else is up. Throws when none matches.
std::vector<NetInterface> selectInterfaces();

void setNonBlocking(int fd, bool on);
void setNoDelay(int fd);

// Listening TCP socket on `address` (port 0 picks one). Returns the fd; `address` gets the port.
Fd listenOn(SocketAddress& address, int backlog = 16384);
SocketAddress localAddress(int fd);

// Connects, retrying refused or unreachable attempts until the deadline (the peer may not be
// listening yet) with a jittered back-off of 1 ms doubling to 100 ms. `what` names the peer in
// errors.
Fd connectTo(const SocketAddress& address, Deadline deadline, const std::atomic<bool>* abort,
             const std::string& what);
// As connectTo, for a listener that is known to have existed (its owner announced it after it
// listened): once attempts have been refused (ECONNREFUSED) without a break for `refusedGrace`
// (and at least 3 times), nothing listens there any more and this returns an empty Fd instead of
// retrying to the deadline. Timeouts and unreachable errors are retried as by connectTo (a slow
// peer or a full accept queue); the deadline bounds the grace.
Fd connectToListener(const SocketAddress& address, Deadline deadline,
                     const std::atomic<bool>* abort, const std::string& what,
                     std::chrono::milliseconds refusedGrace);
// Waits for one connection; returns an empty Fd on deadline or abort.
Fd acceptOne(int listenFd, Deadline deadline, const std::atomic<bool>* abort);

// Blocking transfers on a (possibly non-blocking) socket, bounded by the deadline. Throw
// Error(kRemote) naming `what` on EOF, reset or timeout.
void sendAll(int fd, const void* data, size_t size, Deadline deadline,
             const std::atomic<bool>* abort, const std::string& what);
void recvAll(int fd, void* data, size_t size, Deadline deadline, const std::atomic<bool>* abort,
             const std::string& what);

// Descriptors passed over a Unix socket (SCM_RIGHTS). attachFds puts `fds` into `msg` as one
// control message held in `control` (cmsghdr-aligned, at least CMSG_SPACE(sizeof(int) *
// fds.size()) bytes); it leaves `msg` without control data when `fds` is empty.
void attachFds(msghdr& msg, void* control, size_t controlBytes, std::span<const int> fds);
// Takes ownership of the descriptors a received message carries, in order.
std::vector<Fd> takeReceivedFds(msghdr& msg);

}  // namespace plexus
