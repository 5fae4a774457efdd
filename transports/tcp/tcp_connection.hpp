// One tcp connection to a peer: its sockets and the staging slots of both directions (see
// tcp_transport.cpp for the protocol).
#pragma once

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "base/socket.hpp"
#include "transports/common/transport.hpp"
#include "transports/tcp/stripe.hpp"
#include "transports/tcp/tcp_wire.hpp"

namespace plexus::transport::tcp {

// Staging slots for one direction: the engine's FIFO depth, or deeper where the transport keeps
// more in flight (TcpOptions::inflightBytes). One allocation, left uninitialized,
// so that slots never used cost address space only.
struct SlotRing {
  std::unique_ptr<std::byte[]> data;
  size_t slotBytes;
  std::vector<PieceHeader> headers;
  std::vector<uint32_t> partsLeft;  // send: pieces not yet written; recv: pieces not yet read
  SlotRing(const SlotConfig& cfg, uint64_t inflightBytes)
      : slotBytes(cfg.slotBytes), headers(depth(cfg, inflightBytes)), partsLeft(headers.size(), 0) {
    data = std::make_unique_for_overwrite<std::byte[]>(headers.size() * slotBytes);
  }
  size_t size() const { return headers.size(); }
  std::byte* slot(uint64_t frame) { return data.get() + (frame % size()) * slotBytes; }
  static size_t depth(const SlotConfig& cfg, uint64_t inflightBytes) {
    uint64_t want = (inflightBytes + cfg.slotBytes - 1) / cfg.slotBytes;
    return std::max<size_t>(cfg.slots, std::min<uint64_t>(want, kMaxRingSlots));
  }
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
  PieceHeader next{};     // bytes of the next piece's header read together with a payload
  size_t nextGot = 0;
  bool eof = false;
  int eofErrno = 0;
};

class TcpConnection final : public Connection, public SendEndpoint, public RecvEndpoint {
 public:
  TcpConnection(const TransportContext& ctx, const TcpOptions& options, int peer,
                std::vector<Fd> fds, std::string peerAddress);

  SendEndpoint& sender() override { return *this; }
  RecvEndpoint& receiver() override { return *this; }

  // --- sending
  std::byte* acquire() override {
    if (posted_ - written_ >= out_.size()) {
      pumpSend();
      if (posted_ - written_ >= out_.size()) return nullptr;
    }
    return out_.slot(posted_);
  }
  void post(uint32_t bytes, uint32_t tag) override;
  // With one socket and nothing queued on it, writes the piece straight from `src` and copies
  // into `slot` only what the socket did not take (then queued as usual).
  void postFrom(std::byte* slot, const std::byte* src, uint32_t bytes, uint32_t tag) override;
  bool sendsFromMemory() const override { return streams_.size() == 1; }

  // --- receiving
  const std::byte* peek(uint32_t* bytes, uint32_t* tag) override;
  // With one socket: the oldest frame's payload is left in the socket until the engine asks for
  // it, and then read straight into `dst` when it is a whole frame of `expected` bytes.
  const std::byte* peekInto(std::byte* dst, uint32_t expected, uint32_t* bytes,
                            uint32_t* tag) override;
  bool receivesIntoMemory() const { return streams_.size() == 1; }
  void release() override {
    in_.partsLeft[released_ % in_.size()] = 0;
    in_.headers[released_ % in_.size()].parts = 0;
    ++released_;
    direct_ = nullptr;
  }

  bool progress() override {
    bool moved = pumpSend();
    moved |= pumpRecv(receivesIntoMemory());
    return moved;
  }
  bool sendDrained() const override { return written_ == posted_; }
  void checkPeer() override;
  void addPollFds(std::vector<pollfd>& fds) override;
  std::string describe() const override;
  // After an abort: FIN after what was written. A full close now would reset the connection if
  // the peer's data is still unread here; the destructor drains before closing.
  void halfClose();

  ~TcpConnection() override;

 private:
  [[noreturn]] void broken(const char* what, int err);

  // The peer is gone for this connection: a socket was reset, or every socket reached its end
  // (one socket's end alone may precede data still in flight on another).
  bool peerClosed(int* err) const;

  void pieceWritten(uint64_t frame);

  bool pumpSend();
  // Drops `bytes` just written from the front of the socket's queue.
  void retireWritten(Stream& st, size_t bytes);

  // Reads the head frame's payload (atHeadPayload) into `dst`; a whole one fills the frame there
  // (direct_), a part is copied into the frame's slot and the rest follows there.
  void readHeadInto(Stream& st, std::byte* dst);
  // After a payload (and perhaps the start of the next header) was read: the next header's bytes
  // that came with it become the piece being read.
  void takeNextHeader(Stream& st);

  // Validates a piece header that just arrived and returns its frame number.
  uint64_t acceptHeader(const PieceHeader& h);

  void pieceRead(Stream& st);

  // Reads what the sockets hold into the slots. With `leaveHead`, the payload of the frame the
  // consumer takes next stays in the socket (peekInto may read it into the consumer's memory).
  bool pumpRecv(bool leaveHead = false);
  // True when `st` has read the header of the frame the consumer takes next and none of its
  // payload.
  bool atHeadPayload(const Stream& st) const {
    return filled_ == released_ && st.recvOffset == sizeof(PieceHeader) &&
           st.inFrame == released_ && st.in.length > 0;
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
  // The memory the oldest filled frame was read into by peekInto (nullptr: its slot), until
  // release(); only returned, never written again.
  const std::byte* direct_ = nullptr;
  std::string deferredError_;  // an error met while reading outside peek(), reported by it
  bool closed_ = false;
  bool aborted_ = false;
};

}  // namespace plexus::transport::tcp
