// The tcp connection's data path: slots cut into pieces over the connection's sockets, written
// and read without blocking, and the errors that name the peer.
#include "transports/tcp/tcp_connection.hpp"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.hpp"

namespace plexus::transport::tcp {

TcpConnection::TcpConnection(const TransportContext& ctx, const TcpOptions& options, int peer,
                             std::vector<Fd> fds, std::string peerAddress)
    : ctx_(ctx),
      options_(options),
      peer_(peer),
      peerAddress_(std::move(peerAddress)),
      out_(ctx.slots, options.inflightBytes),
      in_(ctx.slots, options.inflightBytes) {
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

void TcpConnection::post(uint32_t bytes, uint32_t tag) {
  if (bytes > out_.slotBytes)
    throwError(ErrorCode::kInvalidArgument, "%s: %u bytes posted into a slot of %zu",
               describe().c_str(), bytes, out_.slotBytes);
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

void TcpConnection::postFrom(std::byte* slot, const std::byte* src, uint32_t bytes, uint32_t tag) {
  if (streams_.size() != 1 || !streams_[0]->out.empty() || bytes > out_.slotBytes) {
    SendEndpoint::postFrom(slot, src, bytes, tag);
    return;
  }
  Stream& st = *streams_[0];
  const uint64_t n = posted_;
  PieceHeader h{static_cast<uint32_t>(n), tag, bytes, 0, bytes, 1};
  iovec iov[2] = {{&h, sizeof(h)}, {const_cast<std::byte*>(src), bytes}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = bytes != 0 ? 2 : 1;
  ssize_t w;
  do {
    w = ::sendmsg(st.fd.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (w < 0 && errno == EINTR);
  if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) broken("sending", errno);
  const size_t written = w > 0 ? static_cast<size_t>(w) : 0;
  out_.partsLeft[n % out_.size()] = 1;
  ++posted_;
  if (written == sizeof(h) + bytes) {
    pieceWritten(n);
    return;
  }
  // The socket is full: the rest leaves from the slot (the one acquire() gave), after what was
  // written.
  (void)slot;
  std::byte* staged = out_.slot(n);
  const size_t done = written > sizeof(h) ? written - sizeof(h) : 0;
  if (bytes > done) std::memcpy(staged + done, src + done, bytes - done);
  st.out.push_back(Stream::Out{n, tcp::Piece{0, 0, bytes}, h});
  st.sendOffset = written;
}

const std::byte* TcpConnection::peek(uint32_t* bytes, uint32_t* tag) {
  if (!deferredError_.empty()) throwError(ErrorCode::kRemote, "%s", deferredError_.c_str());
  if (filled_ == released_) pumpRecv();
  if (filled_ == released_) {
    int err = 0;
    if (peerClosed(&err)) broken("receiving", err);
    return nullptr;
  }
  size_t i = released_ % in_.size();
  *bytes = in_.headers[i].total;
  *tag = in_.headers[i].tag;
  return direct_ != nullptr ? direct_ : in_.slot(i);
}

const std::byte* TcpConnection::peekInto(std::byte* dst, uint32_t expected, uint32_t* bytes,
                                         uint32_t* tag) {
  if (filled_ == released_ && receivesIntoMemory()) {
    pumpRecv(true);
    Stream& st = *streams_[0];
    if (atHeadPayload(st) && st.in.offset == 0 && st.in.length == st.in.total &&
        st.in.total == expected)
      readHeadInto(st, dst);
  }
  return peek(bytes, tag);
}

void TcpConnection::readHeadInto(Stream& st, std::byte* dst) {
  const size_t want = st.in.length;
  iovec iov[2] = {{dst, want}, {&st.next, sizeof(PieceHeader)}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  ssize_t r;
  do {
    r = ::recvmsg(st.fd.get(), &msg, MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (r <= 0) {
    st.eof = true;  // as in pumpRecv: an error only if this rank still expects data (peek says)
    st.eofErrno = r == 0 ? 0 : errno;
    return;
  }
  size_t got = static_cast<size_t>(r);
  if (got > want) {
    st.nextGot = got - want;
    got = want;
  }
  if (got < want) {
    // Only part of it is here: it goes to the slot, where the rest will follow.
    std::memcpy(in_.slot(st.inFrame) + st.in.offset, dst, got);
    st.recvOffset += got;
    return;
  }
  st.recvOffset = 0;
  pieceRead(st);
  direct_ = dst;
  takeNextHeader(st);
}

void TcpConnection::takeNextHeader(Stream& st) {
  if (st.nextGot == 0) return;
  st.in = st.next;
  st.recvOffset = st.nextGot;
  st.nextGot = 0;
  if (st.recvOffset == sizeof(PieceHeader)) st.inFrame = acceptHeader(st.in);
}

TcpConnection::~TcpConnection() {
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

void TcpConnection::broken(const char* what, int err) {
  closed_ = true;
  if (err == 0)
    throwError(ErrorCode::kRemote,
               "%s closed the connection while %s (the peer exited or failed); check its output",
               describe().c_str(), what);
  throwError(ErrorCode::kRemote, "%s: %s failed: %s (the peer may have exited)", describe().c_str(),
             what, std::strerror(err));
}

bool TcpConnection::peerClosed(int* err) const {
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

void TcpConnection::pieceWritten(uint64_t frame) {
  size_t i = frame % out_.size();
  if (out_.partsLeft[i] > 0) --out_.partsLeft[i];
  while (written_ != posted_ && out_.partsLeft[written_ % out_.size()] == 0) ++written_;
}

// Queued pieces of one socket go out together: one sendmsg() carries up to kSendIov / 2 pieces
// (header and payload each), fewer system calls per byte than a call per piece.
bool TcpConnection::pumpSend() {
  constexpr int kSendIov = 32;
  bool moved = false;
  for (auto& stp : streams_) {
    Stream& st = *stp;
    while (!st.out.empty()) {
      iovec iov[kSendIov];
      int n = 0;
      size_t want = 0;
      size_t skip = st.sendOffset;
      for (auto it = st.out.begin(); it != st.out.end() && n + 2 <= kSendIov; ++it, skip = 0) {
        std::byte* payload = out_.slot(it->frame) + it->piece.offset;
        if (skip < sizeof(PieceHeader)) {
          iov[n++] = {reinterpret_cast<char*>(&it->header) + skip, sizeof(PieceHeader) - skip};
          if (it->piece.length > 0) iov[n++] = {payload, it->piece.length};
        } else {
          size_t off = skip - sizeof(PieceHeader);
          iov[n++] = {payload + off, it->piece.length - off};
        }
        want += sizeof(PieceHeader) + it->piece.length - skip;
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
      retireWritten(st, static_cast<size_t>(w));
      if (static_cast<size_t>(w) < want) break;  // the socket buffer is full
    }
  }
  return moved;
}

void TcpConnection::retireWritten(Stream& st, size_t bytes) {
  while (bytes > 0) {
    Stream::Out& o = st.out.front();
    size_t rest = sizeof(PieceHeader) + o.piece.length - st.sendOffset;
    if (bytes < rest) {
      st.sendOffset += bytes;
      return;
    }
    bytes -= rest;
    st.sendOffset = 0;
    uint64_t frame = o.frame;
    st.out.pop_front();
    pieceWritten(frame);
  }
}

uint64_t TcpConnection::acceptHeader(const PieceHeader& h) {
  uint64_t frame = released_ + static_cast<uint32_t>(h.frame - static_cast<uint32_t>(released_));
  size_t slotBytes = in_.slotBytes;
  if (h.total > slotBytes || h.offset > h.total || h.length > h.total - h.offset || h.parts == 0 ||
      h.parts > kMaxSockets ||
      static_cast<uint32_t>(h.frame - static_cast<uint32_t>(released_)) > (1u << 30))
    throwError(ErrorCode::kRemote,
               "%s sent a damaged piece (frame %u, %u bytes at %u of %u, %u parts; slots of "
               "%zu bytes): the ranks disagree on PLEXUS_SLOT_SIZE or the stream is corrupt",
               describe().c_str(), h.frame, h.length, h.offset, h.total, h.parts, slotBytes);
  return frame;
}

void TcpConnection::pieceRead(Stream& st) {
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

bool TcpConnection::pumpRecv(bool leaveHead) {
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
        if (leaveHead && atHeadPayload(st)) break;  // for peekInto
        size_t off = st.recvOffset - sizeof(PieceHeader);
        dst = in_.slot(st.inFrame) + st.in.offset + off;
        want = st.in.length - off;
      }
      if (want > 0) {
        // While reading a payload, the next piece's header comes in the same call.
        const bool payload = st.recvOffset >= sizeof(PieceHeader);
        iovec iov[2] = {{dst, want}, {&st.next, sizeof(PieceHeader)}};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = payload ? 2 : 1;
        ssize_t r = ::recvmsg(st.fd.get(), &msg, MSG_DONTWAIT);
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
        size_t got = static_cast<size_t>(r);
        if (payload && got > want) {
          st.nextGot = got - want;
          got = want;
        }
        st.recvOffset += got;
        if (st.recvOffset == sizeof(PieceHeader)) st.inFrame = acceptHeader(st.in);
      }
      if (st.recvOffset >= sizeof(PieceHeader) &&
          st.recvOffset == sizeof(PieceHeader) + st.in.length) {
        if (st.inFrame >= released_ + in_.size()) break;  // zero-length piece, slot busy
        st.recvOffset = 0;
        pieceRead(st);
        moved = true;
        takeNextHeader(st);  // the next piece's header, or its start, came with this one
      }
    }
  }
  return moved;
}

void TcpConnection::checkPeer() {
  if (closed_) throwError(ErrorCode::kRemote, "%s: connection closed", describe().c_str());
  int err = 0;
  if (filled_ == released_ && peerClosed(&err)) broken("waiting", err);
}

void TcpConnection::addPollFds(std::vector<pollfd>& fds) {
  // The rank is about to sleep: a head payload left in the socket for peekInto would end every
  // sleep at once, so it is read into its slot now.
  if (receivesIntoMemory() && atHeadPayload(*streams_[0])) {
    try {
      pumpRecv();
    } catch (const Error& e) {
      deferredError_ = e.what();  // a damaged stream: the next peek() reports it
    }
  }
  for (auto& st : streams_) {
    short events = st->eof ? 0 : POLLIN;
    if (!st->out.empty()) events |= POLLOUT;
    if (events != 0) fds.push_back(pollfd{st->fd.get(), events, 0});
  }
}

std::string TcpConnection::describe() const {
  const PeerRecord& rec = (*ctx_.peers)[peer_];
  return formatString("rank %d (host %s, %s) over tcp", peer_, rec.hostName.c_str(),
                      peerAddress_.c_str());
}

void TcpConnection::halfClose() {
  for (auto& st : streams_)
    if (st->fd) ::shutdown(st->fd.get(), SHUT_WR);
  aborted_ = true;
}

}  // namespace plexus::transport::tcp
