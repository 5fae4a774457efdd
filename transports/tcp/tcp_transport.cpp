// The TCP transport: PLEXUS_NSOCKS_PERTHREAD sockets per peer and connection id carry both
// directions. The lower rank connects to the higher rank's listening socket(s) and introduces each
// socket (communicator id, secret, rank, connection id, socket index and count); each direction
// moves slot-sized frames between staging slots on both sides as pieces (24-byte header +
// payload): a slot larger than PLEXUS_SOCKET_STRIPE is striped across the sockets, smaller ones
// travel whole, spread over the sockets frame by frame. A connection stages the engine's FIFO, or
// PLEXUS_SOCKET_INFLIGHT bytes per direction when more; queued pieces leave in one sendmsg() and a
// payload is read together with the next header. Non-blocking I/O driven by the engine's
// progress; partial writes, EINTR and resets are handled per socket, and errors name the peer
// rank, its host and address.
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "base/drop_log.hpp"
#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "base/socket.hpp"
#include "transports/common/abort_reason.hpp"
#include "transports/common/transport.hpp"
#include "transports/tcp/tcp_connection.hpp"
#include "transports/tcp/tcp_wire.hpp"

namespace plexus::transport {

namespace tcp {
TcpOptions tcpOptionsFromEnv() {
  TcpOptions o;
  int64_t n = envInt("NSOCKS_PERTHREAD", 1);
  if (n < 1 || n > kMaxSockets)
    throwError(ErrorCode::kInvalidArgument, "PLEXUS_NSOCKS_PERTHREAD=%lld must be between 1 and %d",
               static_cast<long long>(n), kMaxSockets);
  o.sockets = static_cast<int>(n);
  uint64_t stripe = envSize("SOCKET_STRIPE", o.stripe);
  if (stripe < 4096 || stripe > (1u << 30))
    throwError(ErrorCode::kInvalidArgument, "PLEXUS_SOCKET_STRIPE=%llu must be between 4K and 1G",
               static_cast<unsigned long long>(stripe));
  o.stripe = static_cast<uint32_t>(stripe);
  uint64_t buf = envSize("SOCKET_BUF_SIZE", static_cast<uint64_t>(o.bufferBytes));
  if (buf > (1u << 30))
    throwError(ErrorCode::kInvalidArgument, "PLEXUS_SOCKET_BUF_SIZE=%llu is larger than 1G",
               static_cast<unsigned long long>(buf));
  o.bufferBytes = static_cast<int>(buf);
  o.inflightBytes = envSize("SOCKET_INFLIGHT", o.inflightBytes);
  if (o.inflightBytes > (uint64_t{1} << 30))
    throwError(ErrorCode::kInvalidArgument, "PLEXUS_SOCKET_INFLIGHT=%llu is larger than 1G",
               static_cast<unsigned long long>(o.inflightBytes));
  return o;
}
}  // namespace tcp

namespace {

using namespace tcp;

// An accepted socket whose hello has not fully arrived yet.
struct PendingAccept {
  Fd fd;
  Hello hello{};
  size_t got = 0;
  Clock::time_point since;
};

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(const TransportContext& ctx) : ctx_(ctx), options_(tcpOptionsFromEnv()) {
    auto ifs = selectInterfaces();
    SocketAddress addr = ifs.front().address;
    addr.setPort(0);
    listener_ = listenOn(addr);
    setNonBlocking(listener_.get(), true);
    address_ = addr;
    drops_.emplace("tcp transport on " + addr.toString(), subsys::kNet);
    PLEXUS_INFO(subsys::kNet,
                "tcp transport listening on %s (%s); %d socket(s) per connection, stripe %u bytes, "
                "socket buffers %s, staging %s per direction",
                addr.toString().c_str(), ifs.front().name.c_str(), options_.sockets,
                options_.stripe,
                options_.bufferBytes > 0 ? formatString("%d bytes", options_.bufferBytes).c_str()
                                         : "autotuned",
                options_.inflightBytes > 0
                    ? formatString("up to %llu bytes",
                                   static_cast<unsigned long long>(options_.inflightBytes))
                          .c_str()
                    : "the engine's FIFO");
  }
  const char* name() const override { return "tcp"; }
  std::string localAddress() override {
    return std::string(reinterpret_cast<const char*>(&address_.storage), address_.length);
  }
  bool canReach(const PeerRecord&, const PeerRecord& peer) const override {
    return peer.addresses.count("tcp") != 0;
  }

  Connection* connect(int connectionId, int peer) override {
    auto key = std::make_pair(connectionId, peer);
    const PeerRecord& rec = (*ctx_.peers)[peer];
    auto blob = rec.addresses.find("tcp");
    if (blob == rec.addresses.end())
      throwError(ErrorCode::kInternal, "rank %d published no tcp address", peer);
    SocketAddress addr =
        SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(blob->second.data()),
                                    static_cast<socklen_t>(blob->second.size()));
    std::vector<Fd> fds;
    if (ctx_.rank < peer) {
      std::string what = formatString("rank %d (host %s) tcp listener", peer, rec.hostName.c_str());
      for (int i = 0; i < options_.sockets; ++i) {
        Fd fd = connectTo(addr, Deadline::fromEnv(), ctx_.abort, what);
        Hello h{};
        h.magic = kHelloMagic;
        h.fromRank = ctx_.rank;
        h.commId = ctx_.commId;
        h.connection = connectionId;
        h.socketIndex = static_cast<uint16_t>(i);
        h.socketCount = static_cast<uint16_t>(options_.sockets);
        std::memcpy(h.secret, ctx_.secret, sizeof(h.secret));
        sendAll(fd.get(), &h, sizeof(h), Deadline::fromEnv(), ctx_.abort, what);
        fds.push_back(std::move(fd));
      }
    } else {
      auto ready = [&] {
        auto it = accepted_.find(key);
        return it != accepted_.end() &&
               std::all_of(it->second.begin(), it->second.end(), [](const Fd& f) { return !!f; });
      };
      if (!ready()) {
        progress();
        if (!ready()) return nullptr;
      }
      fds = std::move(accepted_[key]);
      accepted_.erase(key);
    }
    size_t nfds = fds.size();
    auto conn =
        std::make_unique<TcpConnection>(ctx_, options_, peer, std::move(fds), addr.toString());
    PLEXUS_INFO(subsys::kNet, "connection %d to rank %d over tcp (%s, %zu socket%s)", connectionId,
                peer, addr.toString().c_str(), nfds, nfds == 1 ? "" : "s");
    Connection* raw = conn.get();
    connections_.emplace(key, std::move(conn));
    return raw;
  }

  bool progress() override {
    bool moved = acceptNew();
    if (!notices_.empty()) {
      auto& [from, reason] = *notices_.begin();
      const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(from)];
      throw Error(
          ErrorCode::kRemote,
          peerAborted(formatString("rank %d (host %s)", from, rec.hostName.c_str()), reason));
    }
    for (auto& [key, conn] : connections_) moved |= conn->progress();
    return moved;
  }
  void addPollFds(std::vector<pollfd>& fds) override {
    fds.push_back(pollfd{listener_.get(), POLLIN, 0});
    for (auto& p : pending_) fds.push_back(pollfd{p.fd.get(), POLLIN, 0});
    for (auto& [key, conn] : connections_) conn->addPollFds(fds);
  }
  // Sockets wake a waiter: the listener, introductions still arriving, every connection.
  WakeSources wakeSources() const override { return {nullptr, true}; }
  Costs costs() const override { return tcpCosts(); }
  void abortAll(const std::string& reason) override {
    // The reason goes first, on a fresh connection per peer (a data socket may be full); then the
    // data sockets are half-closed, so peers that missed the notice still see the end of stream.
    std::vector<int> told;
    for (auto& [key, conn] : connections_)
      if (std::find(told.begin(), told.end(), key.second) == told.end()) told.push_back(key.second);
    for (int peer : told) sendAbortNotice(peer, reason);
    for (auto& [key, conn] : connections_) conn->halfClose();
  }

 private:
  bool acceptNew() {
    bool moved = false;
    // accept4() on an empty queue still allocates and frees a socket in the kernel (microseconds);
    // a zero-timeout poll() says first whether anyone is waiting.
    pollfd lp{listener_.get(), POLLIN, 0};
    while (::poll(&lp, 1, 0) > 0 && (lp.revents & POLLIN) != 0) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;
      pending_.push_back(PendingAccept{Fd(fd), {}, 0, Clock::now()});
      moved = true;
    }
    for (size_t i = 0; i < pending_.size();) {
      PendingAccept& p = pending_[i];
      ssize_t r = ::recv(p.fd.get(), reinterpret_cast<char*>(&p.hello) + p.got,
                         sizeof(Hello) - p.got, MSG_DONTWAIT);
      bool drop = false;
      const char* why = nullptr;
      if (r > 0) {
        p.got += static_cast<size_t>(r);
        moved = true;
      } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        drop = true;
        why = "closed before introducing itself";
      }
      if (!drop && p.got == sizeof(Hello)) {
        const Hello& h = p.hello;
        if (h.magic != kHelloMagic || h.commId != ctx_.commId ||
            std::memcmp(h.secret, ctx_.secret, sizeof(h.secret)) != 0) {
          drop = true;
          why = "did not present this communicator's id and secret";
        } else if (h.connection == kAbortNotice && h.fromRank >= 0 && h.fromRank < ctx_.nranks) {
          readAbortNotice(p.fd.get(), h.fromRank);
          pending_.erase(pending_.begin() + static_cast<long>(i));
          continue;
        } else if (h.fromRank < 0 || h.fromRank >= ctx_.nranks || h.fromRank >= ctx_.rank ||
                   h.connection < 0 || h.socketCount < 1 || h.socketCount > kMaxSockets ||
                   h.socketIndex >= h.socketCount) {
          drop = true;
          why = "claimed an impossible rank, connection or socket";
        } else {
          auto& fds = accepted_[std::make_pair(static_cast<int>(h.connection),
                                               static_cast<int>(h.fromRank))];
          if (fds.empty()) fds.resize(h.socketCount);
          if (fds.size() != h.socketCount || fds[h.socketIndex]) {
            drop = true;
            why = "sent a socket that does not fit its connection";
          } else {
            fds[h.socketIndex] = std::move(p.fd);
            pending_.erase(pending_.begin() + static_cast<long>(i));
            continue;
          }
        }
      }
      if (!drop && Clock::now() - p.since > std::chrono::seconds(30)) {
        drop = true;
        why = "sent no introduction within 30 s";
      }
      // Silent connections cost a descriptor each: beyond what every peer's sockets could need,
      // the oldest goes at once (a real peer introduces itself right after connecting).
      const size_t maxSilent = 256 + 2 * kMaxSockets * static_cast<size_t>(ctx_.nranks);
      if (!drop && i == 0 && p.got < sizeof(Hello) && pending_.size() > maxSilent) {
        drop = true;
        why = "sent no introduction while too many newer connections waited";
      }
      if (drop) {
        sockaddr_storage ss{};
        socklen_t len = sizeof(ss);
        std::string who = "unknown peer";
        if (getpeername(p.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0)
          who = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).toString();
        drops_->dropped(who, why);
        pending_.erase(pending_.begin() + static_cast<long>(i));
        continue;
      }
      ++i;
    }
    return moved;
  }

  // A short connection that only carries this rank's abort reason to `peer`. Best effort.
  void sendAbortNotice(int peer, const std::string& reason) {
    const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(peer)];
    auto blob = rec.addresses.find("tcp");
    if (blob == rec.addresses.end()) return;
    SocketAddress addr =
        SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(blob->second.data()),
                                    static_cast<socklen_t>(blob->second.size()));
    Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return;
    if (::connect(fd.get(), addr.sa(), addr.length) != 0 && errno != EINPROGRESS) return;
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, 200) <= 0) return;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return;
    Hello h{};
    h.magic = kHelloMagic;
    h.fromRank = ctx_.rank;
    h.commId = ctx_.commId;
    h.connection = kAbortNotice;
    std::memcpy(h.secret, ctx_.secret, sizeof(h.secret));
    std::string text = reason.substr(0, kMaxAbortText);
    uint32_t n = static_cast<uint32_t>(text.size());
    std::string msg(reinterpret_cast<const char*>(&h), sizeof(h));
    msg.append(reinterpret_cast<const char*>(&n), sizeof(n));
    msg += text;
    try {
      sendAll(fd.get(), msg.data(), msg.size(), Deadline::after(std::chrono::milliseconds(200)),
              nullptr, "abort notice");
    } catch (const Error&) {
    }
  }

  void readAbortNotice(int fd, int from) {
    uint32_t n = 0;
    std::string text;
    try {
      recvAll(fd, &n, sizeof(n), Deadline::after(std::chrono::milliseconds(500)), nullptr,
              "notice");
      text.resize(std::min<size_t>(n, kMaxAbortText));
      recvAll(fd, text.data(), text.size(), Deadline::after(std::chrono::milliseconds(500)),
              nullptr, "notice");
    } catch (const Error&) {
      text = "(reason lost)";
    }
    notices_.emplace(from, text);
  }

  const TransportContext& ctx_;
  TcpOptions options_;
  std::map<int, std::string> notices_;
  Fd listener_;
  SocketAddress address_;
  std::vector<PendingAccept> pending_;
  std::optional<DropLog> drops_;  // made with the listener (its address names it)
  std::map<std::pair<int, int>, std::vector<Fd>> accepted_;
  std::map<std::pair<int, int>, std::unique_ptr<TcpConnection>> connections_;
};

}  // namespace

std::unique_ptr<Transport> makeTcpTransport(const TransportContext& ctx) {
  return std::make_unique<TcpTransport>(ctx);
}

// Kernel sockets: a system call and a wake-up on each side per message (tens of microseconds);
// per connection about what one core copies through the socket stack.
Costs tcpCosts() {
  Costs c;
  c.latencyUs = 30.0;
  c.bandwidthGBps = 1.25;
  c.messageUs = 2.0;
  c.registersMemory = false;
  c.maxChannels = 2;
  return c;
}

}  // namespace plexus::transport
