// The TCP transport: one socket per peer and connection id carries both directions. The lower
// rank connects to the higher rank's listening socket and introduces itself (communicator id,
// secret, rank, connection id); each direction moves slot-sized frames (8-byte header + payload)
// between staging slots on both sides, with non-blocking I/O driven by the engine's progress.
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "transports/common/abi_export.hpp"
#include "transports/common/abort_reason.hpp"
#include "transports/common/transport.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/socket.hpp"

namespace plexus::transport {
namespace {

constexpr uint32_t kHelloMagic = 0x504c5854;  // "PLXT"

struct Hello {
  uint32_t magic;
  int32_t fromRank;
  uint64_t commId;
  int32_t connection;
  uint32_t reserved;
  uint8_t secret[16];
};

struct FrameHeader {
  uint32_t bytes;
  uint32_t tag;
};
constexpr size_t kMaxAbortText = 1024;
// Hello.connection of a connection that only carries an abort reason.
constexpr int32_t kAbortNotice = -1;

class TcpConnection;

// Staging slots for one direction.
struct SlotRing {
  std::vector<std::vector<std::byte>> slots;
  std::vector<FrameHeader> headers;
  explicit SlotRing(const SlotConfig& cfg)
      : slots(cfg.slots, std::vector<std::byte>(cfg.slotBytes)), headers(cfg.slots) {}
  size_t size() const { return slots.size(); }
};

class TcpConnection final : public Connection, public SendEndpoint, public RecvEndpoint {
 public:
  TcpConnection(const TransportContext& ctx, int peer, Fd fd, std::string peerAddress)
      : ctx_(ctx),
        peer_(peer),
        fd_(std::move(fd)),
        peerAddress_(std::move(peerAddress)),
        out_(ctx.slots),
        in_(ctx.slots) {
    setNonBlocking(fd_.get(), true);
    setNoDelay(fd_.get());
    int buf = 4 << 20;
    setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  }

  SendEndpoint& sender() override { return *this; }
  RecvEndpoint& receiver() override { return *this; }

  // --- sending
  std::byte* acquire() override {
    if (posted_ - written_ >= out_.size()) {
      pumpSend();
      if (posted_ - written_ >= out_.size()) return nullptr;
    }
    return out_.slots[posted_ % out_.size()].data();
  }
  void post(uint32_t bytes, uint32_t tag) override {
    out_.headers[posted_ % out_.size()] = FrameHeader{bytes, tag};
    ++posted_;
    pumpSend();
  }

  // --- receiving
  const std::byte* peek(uint32_t* bytes, uint32_t* tag) override {
    if (filled_ == released_) pumpRecv();
    if (filled_ == released_) {
      if (eof_) broken("receiving", eofErrno_);
      return nullptr;
    }
    size_t i = released_ % in_.size();
    *bytes = in_.headers[i].bytes;
    *tag = in_.headers[i].tag;
    return in_.slots[i].data();
  }
  void release() override { ++released_; }

  bool progress() override {
    bool moved = pumpSend();
    moved |= pumpRecv();
    return moved;
  }
  bool sendDrained() const override { return written_ == posted_; }
  bool usesDoorbell() const override { return false; }
  void checkPeer() override {
    if (closed_) throwError(ErrorCode::kRemote, "%s: connection closed", describe().c_str());
    if (eof_ && filled_ == released_) broken("waiting", eofErrno_);
  }
  void addPollFds(std::vector<pollfd>& fds) override {
    short events = eof_ ? 0 : POLLIN;
    if (posted_ != written_) events |= POLLOUT;
    if (events == 0) return;
    fds.push_back(pollfd{fd_.get(), events, 0});
  }
  std::string describe() const override {
    const PeerRecord& rec = (*ctx_.peers)[peer_];
    return formatString("rank %d (host %s, %s) over tcp", peer_, rec.hostName.c_str(),
                        peerAddress_.c_str());
  }
  // After an abort: FIN after what was written. A full close now would reset the connection if
  // the peer's data is still unread here; the destructor drains before closing.
  void halfClose() {
    if (!fd_) return;
    ::shutdown(fd_.get(), SHUT_WR);
    aborted_ = true;
  }

  ~TcpConnection() override {
    if (!fd_ || !aborted_) return;
    // Give the peer a moment to read the reason: discard what it still sends until it closes.
    char sink[4096];
    auto until = Clock::now() + std::chrono::milliseconds(200);
    while (Clock::now() < until) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      ssize_t r = ::recv(fd_.get(), sink, sizeof(sink), MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
    }
  }

 private:
  [[noreturn]] void broken(const char* what, int err) {
    closed_ = true;
    if (err == 0)
      throwError(ErrorCode::kRemote,
                 "%s closed the connection while %s (the peer exited or failed); check its output",
                 describe().c_str(), what);
    throwError(ErrorCode::kRemote, "%s: %s failed: %s (the peer may have exited)",
               describe().c_str(), what, std::strerror(err));
  }

  bool pumpSend() {
    bool moved = false;
    while (written_ != posted_) {
      size_t i = written_ % out_.size();
      const FrameHeader& h = out_.headers[i];
      iovec iov[2];
      int n = 0;
      size_t total = sizeof(FrameHeader) + h.bytes;
      if (sendOffset_ < sizeof(FrameHeader)) {
        iov[n++] = {reinterpret_cast<char*>(const_cast<FrameHeader*>(&h)) + sendOffset_,
                    sizeof(FrameHeader) - sendOffset_};
        if (h.bytes > 0) iov[n++] = {out_.slots[i].data(), h.bytes};
      } else {
        size_t off = sendOffset_ - sizeof(FrameHeader);
        iov[n++] = {out_.slots[i].data() + off, h.bytes - off};
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(n);
      ssize_t w = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        broken("sending", errno);
      }
      moved = true;
      sendOffset_ += static_cast<size_t>(w);
      if (sendOffset_ == total) {
        sendOffset_ = 0;
        ++written_;
      }
    }
    return moved;
  }

  bool pumpRecv() {
    bool moved = false;
    while (filled_ - released_ < in_.size()) {
      size_t i = filled_ % in_.size();
      FrameHeader& h = in_.headers[i];
      void* dst;
      size_t want;
      if (recvOffset_ < sizeof(FrameHeader)) {
        dst = reinterpret_cast<char*>(&h) + recvOffset_;
        want = sizeof(FrameHeader) - recvOffset_;
      } else {
        size_t off = recvOffset_ - sizeof(FrameHeader);
        if (h.bytes > in_.slots[i].size())
          throwError(ErrorCode::kRemote,
                     "%s sent a frame of %u bytes, larger than a slot (%zu): the ranks disagree "
                     "on PLEXUS_SLOT_SIZE or the stream is corrupt",
                     describe().c_str(), h.bytes, in_.slots[i].size());
        dst = in_.slots[i].data() + off;
        want = h.bytes - off;
      }
      if (want > 0) {
        if (eof_) break;
        ssize_t r = ::recv(fd_.get(), dst, want, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          // The peer closed (or reset) its end. That is only an error if this rank still expects
          // data from it: peek() and checkPeer() report it then.
          eof_ = true;
          eofErrno_ = r == 0 ? 0 : errno;
          break;
        }
        moved = true;
        recvOffset_ += static_cast<size_t>(r);
      }
      if (recvOffset_ >= sizeof(FrameHeader) && recvOffset_ == sizeof(FrameHeader) + h.bytes) {
        recvOffset_ = 0;
        ++filled_;
      }
    }
    return moved;
  }

  const TransportContext& ctx_;
  int peer_;
  Fd fd_;
  std::string peerAddress_;
  SlotRing out_;
  SlotRing in_;
  uint64_t posted_ = 0, written_ = 0;
  size_t sendOffset_ = 0;
  uint64_t filled_ = 0, released_ = 0;
  size_t recvOffset_ = 0;
  bool closed_ = false;
  bool eof_ = false;
  int eofErrno_ = 0;
  bool aborted_ = false;
};

// An accepted socket whose hello has not fully arrived yet.
struct PendingAccept {
  Fd fd;
  Hello hello{};
  size_t got = 0;
  Clock::time_point since;
};

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(const TransportContext& ctx) : ctx_(ctx) {
    auto ifs = selectInterfaces();
    SocketAddress addr = ifs.front().address;
    addr.setPort(0);
    listener_ = listenOn(addr);
    setNonBlocking(listener_.get(), true);
    address_ = addr;
    PLEXUS_INFO(subsys::kNet, "tcp transport listening on %s (%s)", addr.toString().c_str(),
                ifs.front().name.c_str());
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
    if (auto it = connections_.find(key); it != connections_.end()) return it->second.get();
    const PeerRecord& rec = (*ctx_.peers)[peer];
    auto blob = rec.addresses.find("tcp");
    if (blob == rec.addresses.end())
      throwError(ErrorCode::kInternal, "rank %d published no tcp address", peer);
    SocketAddress addr =
        SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(blob->second.data()),
                                    static_cast<socklen_t>(blob->second.size()));
    Fd fd;
    if (ctx_.rank < peer) {
      std::string what = formatString("rank %d (host %s) tcp listener", peer, rec.hostName.c_str());
      fd = connectTo(addr, Deadline::fromEnv(), ctx_.abort, what);
      Hello h{};
      h.magic = kHelloMagic;
      h.fromRank = ctx_.rank;
      h.commId = ctx_.commId;
      h.connection = connectionId;
      std::memcpy(h.secret, ctx_.secret, sizeof(h.secret));
      sendAll(fd.get(), &h, sizeof(h), Deadline::fromEnv(), ctx_.abort, what);
    } else {
      auto it = accepted_.find(key);
      if (it == accepted_.end()) {
        progress();
        it = accepted_.find(key);
        if (it == accepted_.end()) return nullptr;
      }
      fd = std::move(it->second);
      accepted_.erase(it);
    }
    auto conn = std::make_unique<TcpConnection>(ctx_, peer, std::move(fd), addr.toString());
    PLEXUS_INFO(subsys::kNet, "connection %d to rank %d over tcp (%s)", connectionId, peer,
                addr.toString().c_str());
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
  bool needsPolling() const override { return true; }
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
    while (true) {
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
                   h.connection < 0) {
          drop = true;
          why = "claimed an impossible rank or connection";
        } else {
          accepted_[std::make_pair(static_cast<int>(h.connection), static_cast<int>(h.fromRank))] =
              std::move(p.fd);
          pending_.erase(pending_.begin() + static_cast<long>(i));
          continue;
        }
      }
      if (!drop && Clock::now() - p.since > std::chrono::seconds(30)) {
        drop = true;
        why = "sent no introduction within 30 s";
      }
      if (drop) {
        sockaddr_storage ss{};
        socklen_t len = sizeof(ss);
        std::string who = "unknown peer";
        if (getpeername(p.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0)
          who = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).toString();
        PLEXUS_WARN(subsys::kNet, "tcp transport on %s: dropped a connection from %s that %s",
                    address_.toString().c_str(), who.c_str(), why);
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
  std::map<int, std::string> notices_;
  Fd listener_;
  SocketAddress address_;
  std::vector<PendingAccept> pending_;
  std::map<std::pair<int, int>, Fd> accepted_;
  std::map<std::pair<int, int>, std::unique_ptr<TcpConnection>> connections_;
};

}  // namespace

std::unique_ptr<Transport> makeTcpTransport(const TransportContext& ctx) {
  return std::make_unique<TcpTransport>(ctx);
}

}  // namespace plexus::transport

namespace plexus::transport {
const plexus_transport_v1_t* builtinTcpTable() {
  static const plexus_transport_v1_t table = exportTransport<makeTcpTransport>("tcp", 0);
  return &table;
}
}  // namespace plexus::transport
