// The TCP transport: PLEXUS_NSOCKS_PERTHREAD sockets per peer and connection id carry both
// directions. The lower rank connects to the higher rank's listening socket(s) and introduces each
// socket (communicator id, secret, rank, connection id, socket index and count); each direction
// moves slot-sized frames between staging slots on both sides as pieces (24-byte header +
// payload): a slot larger than PLEXUS_SOCKET_STRIPE is striped across the sockets, smaller ones
// travel whole, spread over the sockets frame by frame. Non-blocking I/O driven by the engine's
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
#include <vector>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "base/socket.hpp"
#include "transports/common/abi_export.hpp"
#include "transports/common/abort_reason.hpp"
#include "transports/common/transport.hpp"
#include "transports/tcp/stripe.hpp"

namespace plexus::transport {
namespace {

constexpr uint32_t kHelloMagic = 0x504c5854;  // "PLXT"
constexpr int kMaxSockets = 16;

struct Hello {
  uint32_t magic;
  int32_t fromRank;
  uint64_t commId;
  int32_t connection;
  uint16_t socketIndex;  // this socket's place among the connection's sockets
  uint16_t socketCount;  // sockets the connection uses (PLEXUS_NSOCKS_PERTHREAD of the connector)
  uint8_t secret[16];
};

// One piece of a frame on one socket. `frame` is the frame number modulo 2^32.
struct PieceHeader {
  uint32_t frame;
  uint32_t tag;
  uint32_t total;   // bytes of the whole frame
  uint32_t offset;  // of this piece in the frame
  uint32_t length;  // of this piece
  uint32_t parts;   // pieces of the frame
};
constexpr size_t kMaxAbortText = 1024;
// Hello.connection of a connection that only carries an abort reason.
constexpr int32_t kAbortNotice = -1;

struct TcpOptions {
  int sockets = 1;
  uint32_t stripe = 64 * 1024;
  int bufferBytes = 4 << 20;  // 0: kernel autotuning
};

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
  return o;
}

// Staging slots for one direction.
struct SlotRing {
  std::vector<std::vector<std::byte>> slots;
  std::vector<PieceHeader> headers;
  std::vector<uint32_t> partsLeft;  // send: pieces not yet written; recv: pieces not yet read
  explicit SlotRing(const SlotConfig& cfg)
      : slots(cfg.slots, std::vector<std::byte>(cfg.slotBytes)),
        headers(cfg.slots),
        partsLeft(cfg.slots, 0) {}
  size_t size() const { return slots.size(); }
};

// One socket of a connection and its position in the byte streams of both directions.
struct Stream {
  Fd fd;
  // sending: pieces queued on this socket, the first one partly written
  struct Out {
    uint64_t frame;
    tcp::Piece piece;
    PieceHeader header;
  };
  std::deque<Out> out;
  size_t sendOffset = 0;  // bytes of out.front() (header + payload) already written
  // receiving: the piece being read
  PieceHeader in{};
  size_t recvOffset = 0;  // bytes of the current piece (header + payload) already read
  uint64_t inFrame = 0;   // frame number of `in` once its header is complete
  bool eof = false;
  int eofErrno = 0;
};

class TcpConnection final : public Connection, public SendEndpoint, public RecvEndpoint {
 public:
  TcpConnection(const TransportContext& ctx, const TcpOptions& options, int peer,
                std::vector<Fd> fds, std::string peerAddress)
      : ctx_(ctx),
        options_(options),
        peer_(peer),
        peerAddress_(std::move(peerAddress)),
        out_(ctx.slots),
        in_(ctx.slots) {
    for (Fd& fd : fds) {
      setNonBlocking(fd.get(), true);
      setNoDelay(fd.get());
      if (options.bufferBytes > 0) {
        int buf = options.bufferBytes;
        setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
        setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
      }
      auto st = std::make_unique<Stream>();
      st->fd = std::move(fd);
      streams_.push_back(std::move(st));
    }
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
    if (bytes > out_.slots[0].size())
      throwError(ErrorCode::kInvalidArgument, "%s: %u bytes posted into a slot of %zu",
                 describe().c_str(), bytes, out_.slots[0].size());
    uint64_t n = posted_;
    size_t i = n % out_.size();
    auto pieces = tcp::planPieces(n, bytes, static_cast<int>(streams_.size()), options_.stripe);
    out_.partsLeft[i] = static_cast<uint32_t>(pieces.size());
    for (const tcp::Piece& p : pieces) {
      PieceHeader h{static_cast<uint32_t>(n),
                    tag,
                    bytes,
                    p.offset,
                    p.length,
                    static_cast<uint32_t>(pieces.size())};
      streams_[static_cast<size_t>(p.socket)]->out.push_back(Stream::Out{n, p, h});
    }
    ++posted_;
    pumpSend();
  }

  // --- receiving
  const std::byte* peek(uint32_t* bytes, uint32_t* tag) override {
    if (filled_ == released_) pumpRecv();
    if (filled_ == released_) {
      int err = 0;
      if (peerClosed(&err)) broken("receiving", err);
      return nullptr;
    }
    size_t i = released_ % in_.size();
    *bytes = in_.headers[i].total;
    *tag = in_.headers[i].tag;
    return in_.slots[i].data();
  }
  void release() override {
    in_.partsLeft[released_ % in_.size()] = 0;
    in_.headers[released_ % in_.size()].parts = 0;
    ++released_;
  }

  bool progress() override {
    bool moved = pumpSend();
    moved |= pumpRecv();
    return moved;
  }
  bool sendDrained() const override { return written_ == posted_; }
  bool usesDoorbell() const override { return false; }
  void checkPeer() override {
    if (closed_) throwError(ErrorCode::kRemote, "%s: connection closed", describe().c_str());
    int err = 0;
    if (filled_ == released_ && peerClosed(&err)) broken("waiting", err);
  }
  void addPollFds(std::vector<pollfd>& fds) override {
    for (auto& st : streams_) {
      short events = st->eof ? 0 : POLLIN;
      if (!st->out.empty()) events |= POLLOUT;
      if (events != 0) fds.push_back(pollfd{st->fd.get(), events, 0});
    }
  }
  std::string describe() const override {
    const PeerRecord& rec = (*ctx_.peers)[peer_];
    return formatString("rank %d (host %s, %s) over tcp", peer_, rec.hostName.c_str(),
                        peerAddress_.c_str());
  }
  // After an abort: FIN after what was written. A full close now would reset the connection if
  // the peer's data is still unread here; the destructor drains before closing.
  void halfClose() {
    for (auto& st : streams_)
      if (st->fd) ::shutdown(st->fd.get(), SHUT_WR);
    aborted_ = true;
  }

  ~TcpConnection() override {
    if (!aborted_) return;
    // Give the peer a moment to read the reason: discard what it still sends until it closes.
    char sink[4096];
    auto until = Clock::now() + std::chrono::milliseconds(200);
    for (auto& st : streams_) {
      while (st->fd && Clock::now() < until) {
        pollfd p{st->fd.get(), POLLIN, 0};
        if (::poll(&p, 1, 10) <= 0) continue;
        ssize_t r = ::recv(st->fd.get(), sink, sizeof(sink), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
      }
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

  // The peer is gone for this connection: a socket was reset, or every socket reached its end
  // (one socket's end alone may precede data still in flight on another).
  bool peerClosed(int* err) const {
    size_t ended = 0;
    for (const auto& st : streams_) {
      if (!st->eof) continue;
      if (st->eofErrno != 0) {
        *err = st->eofErrno;
        return true;
      }
      ++ended;
    }
    *err = 0;
    return ended == streams_.size();
  }

  void pieceWritten(uint64_t frame) {
    size_t i = frame % out_.size();
    if (out_.partsLeft[i] > 0) --out_.partsLeft[i];
    while (written_ != posted_ && out_.partsLeft[written_ % out_.size()] == 0) ++written_;
  }

  bool pumpSend() {
    bool moved = false;
    for (auto& stp : streams_) {
      Stream& st = *stp;
      while (!st.out.empty()) {
        Stream::Out& o = st.out.front();
        const std::byte* payload = out_.slots[o.frame % out_.size()].data() + o.piece.offset;
        size_t total = sizeof(PieceHeader) + o.piece.length;
        iovec iov[2];
        int n = 0;
        if (st.sendOffset < sizeof(PieceHeader)) {
          iov[n++] = {reinterpret_cast<char*>(&o.header) + st.sendOffset,
                      sizeof(PieceHeader) - st.sendOffset};
          if (o.piece.length > 0) iov[n++] = {const_cast<std::byte*>(payload), o.piece.length};
        } else {
          size_t off = st.sendOffset - sizeof(PieceHeader);
          iov[n++] = {const_cast<std::byte*>(payload) + off, o.piece.length - off};
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<size_t>(n);
        ssize_t w = ::sendmsg(st.fd.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          if (errno == EINTR) continue;
          broken("sending", errno);
        }
        moved = true;
        st.sendOffset += static_cast<size_t>(w);
        if (st.sendOffset == total) {
          st.sendOffset = 0;
          uint64_t frame = o.frame;
          st.out.pop_front();
          pieceWritten(frame);
        }
      }
    }
    return moved;
  }

  // Validates a piece header that just arrived and returns its frame number.
  uint64_t acceptHeader(const PieceHeader& h) {
    uint64_t frame = released_ + static_cast<uint32_t>(h.frame - static_cast<uint32_t>(released_));
    size_t slotBytes = in_.slots[0].size();
    if (h.total > slotBytes || h.offset > h.total || h.length > h.total - h.offset ||
        h.parts == 0 || h.parts > kMaxSockets ||
        static_cast<uint32_t>(h.frame - static_cast<uint32_t>(released_)) > (1u << 30))
      throwError(ErrorCode::kRemote,
                 "%s sent a damaged piece (frame %u, %u bytes at %u of %u, %u parts; slots of "
                 "%zu bytes): the ranks disagree on PLEXUS_SLOT_SIZE or the stream is corrupt",
                 describe().c_str(), h.frame, h.length, h.offset, h.total, h.parts, slotBytes);
    return frame;
  }

  void pieceRead(Stream& st) {
    size_t i = st.inFrame % in_.size();
    PieceHeader& slot = in_.headers[i];
    if (slot.parts == 0) {
      slot = st.in;
      in_.partsLeft[i] = st.in.parts;
    } else if (slot.parts != st.in.parts || slot.total != st.in.total || slot.tag != st.in.tag ||
               in_.partsLeft[i] == 0) {
      throwError(ErrorCode::kRemote,
                 "%s sent pieces of frame %u that disagree (%u vs %u parts): the stream is "
                 "corrupt",
                 describe().c_str(), st.in.frame, st.in.parts, slot.parts);
    }
    --in_.partsLeft[i];
    while (filled_ - released_ < in_.size()) {
      size_t f = filled_ % in_.size();
      if (in_.headers[f].parts == 0 || in_.partsLeft[f] != 0) break;
      ++filled_;
    }
  }

  bool pumpRecv() {
    bool moved = false;
    for (auto& stp : streams_) {
      Stream& st = *stp;
      while (!st.eof) {
        void* dst;
        size_t want;
        if (st.recvOffset < sizeof(PieceHeader)) {
          dst = reinterpret_cast<char*>(&st.in) + st.recvOffset;
          want = sizeof(PieceHeader) - st.recvOffset;
        } else {
          // A piece of a frame beyond the FIFO waits until the consumer frees its slot.
          if (st.inFrame >= released_ + in_.size()) break;
          size_t off = st.recvOffset - sizeof(PieceHeader);
          dst = in_.slots[st.inFrame % in_.size()].data() + st.in.offset + off;
          want = st.in.length - off;
        }
        if (want > 0) {
          ssize_t r = ::recv(st.fd.get(), dst, want, MSG_DONTWAIT);
          if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          if (r < 0 && errno == EINTR) continue;
          if (r <= 0) {
            // The peer closed (or reset) this socket. That is only an error if this rank still
            // expects data from it: peek() and checkPeer() report it then.
            st.eof = true;
            st.eofErrno = r == 0 ? 0 : errno;
            break;
          }
          moved = true;
          st.recvOffset += static_cast<size_t>(r);
          if (st.recvOffset == sizeof(PieceHeader)) st.inFrame = acceptHeader(st.in);
        }
        if (st.recvOffset >= sizeof(PieceHeader) &&
            st.recvOffset == sizeof(PieceHeader) + st.in.length) {
          if (st.inFrame >= released_ + in_.size()) break;  // zero-length piece, slot busy
          st.recvOffset = 0;
          pieceRead(st);
          moved = true;
        }
      }
    }
    return moved;
  }

  const TransportContext& ctx_;
  TcpOptions options_;
  int peer_;
  std::string peerAddress_;
  std::vector<std::unique_ptr<Stream>> streams_;
  SlotRing out_;
  SlotRing in_;
  uint64_t posted_ = 0, written_ = 0;
  uint64_t filled_ = 0, released_ = 0;
  bool closed_ = false;
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
  explicit TcpTransport(const TransportContext& ctx) : ctx_(ctx), options_(tcpOptionsFromEnv()) {
    auto ifs = selectInterfaces();
    SocketAddress addr = ifs.front().address;
    addr.setPort(0);
    listener_ = listenOn(addr);
    setNonBlocking(listener_.get(), true);
    address_ = addr;
    PLEXUS_INFO(subsys::kNet,
                "tcp transport listening on %s (%s); %d socket(s) per connection, stripe %u bytes, "
                "socket buffers %s",
                addr.toString().c_str(), ifs.front().name.c_str(), options_.sockets,
                options_.stripe,
                options_.bufferBytes > 0 ? formatString("%d bytes", options_.bufferBytes).c_str()
                                         : "autotuned");
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
  TcpOptions options_;
  std::map<int, std::string> notices_;
  Fd listener_;
  SocketAddress address_;
  std::vector<PendingAccept> pending_;
  std::map<std::pair<int, int>, std::vector<Fd>> accepted_;
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
