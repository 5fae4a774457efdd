// The shared-memory transport: ranks on one host exchange data through slot FIFOs in POSIX shared
// memory. Segment names derive from the communicator id, the connection id and the two ranks, so
// both sides meet without exchanging file descriptors; the second to attach removes the name.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "transports/common/abi_export.hpp"
#include "transports/common/abort_reason.hpp"
#include "transports/common/transport.hpp"
#include "transports/shm/shm_fifo.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace plexus::transport {
namespace {

using shm::FifoView;

std::string fifoName(uint64_t commId, int connection, int from, int to) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "/plexus-%016" PRIx64 "-c%d-%d-%d", commId, connection, from, to);
  return buf;
}

struct MappedFifo {
  ShmSegment segment;
  FifoView view;

  // A name still linked here was never opened by the peer: remove it so nothing leaks.
  ~MappedFifo() { segment.unlink(); }

  void attach(const std::string& name, const SlotConfig& cfg) {
    segment = ShmSegment::createOrOpen(name, shm::fifoBytes(cfg.slotBytes, cfg.slots));
    view.header = static_cast<shm::FifoHeader*>(segment.data());
    view.slotBase = static_cast<std::byte*>(segment.data()) + sizeof(shm::FifoHeader);
    view.stride = shm::slotStride(cfg.slotBytes);
    view.slots = cfg.slots;
    // Both sides create with the same geometry; the second one removes the name.
    if (view.header->attached.fetch_add(1, std::memory_order_acq_rel) + 1 >= 2) segment.unlink();
  }
};

class ShmSender final : public SendEndpoint {
 public:
  ShmSender(MappedFifo& fifo, RankControl& peer) : fifo_(fifo), peer_(peer) {}
  std::byte* acquire() override {
    // The receiver's tail is read (a cache-line transfer) only when the FIFO looks full.
    if (head_ - tail_ >= fifo_.view.slots) {
      tail_ = fifo_.view.header->tail.load(std::memory_order_acquire);
      if (head_ - tail_ >= fifo_.view.slots) return nullptr;
    }
    return fifo_.view.slotData(head_);
  }
  void post(uint32_t bytes, uint32_t tag) override {
    shm::SlotHeader* h = fifo_.view.slotHeader(head_);
    h->bytes = bytes;
    h->tag = tag;
    if (bytes <= shm::kInlineBytes) std::memcpy(h->inlineData, fifo_.view.slotData(head_), bytes);
    ++head_;
    h->seq.store(head_, std::memory_order_release);
    peer_.ring();
  }

 private:
  MappedFifo& fifo_;
  RankControl& peer_;
  uint64_t head_ = 0;
  uint64_t tail_ = 0;  // the receiver's tail as last read
};

class ShmReceiver final : public RecvEndpoint {
 public:
  ShmReceiver(MappedFifo& fifo, RankControl& peer) : fifo_(fifo), peer_(peer) {}
  const std::byte* peek(uint32_t* bytes, uint32_t* tag) override {
    const shm::SlotHeader* h = fifo_.view.slotHeader(tail_);
    if (h->seq.load(std::memory_order_acquire) != tail_ + 1) return nullptr;
    *bytes = h->bytes;
    *tag = h->tag;
    return h->bytes <= shm::kInlineBytes ? h->inlineData : fifo_.view.slotData(tail_);
  }
  void release() override {
    ++tail_;
    fifo_.view.header->tail.store(tail_, std::memory_order_release);
    peer_.ring();  // the sender may be waiting for a free slot
  }

 private:
  MappedFifo& fifo_;
  RankControl& peer_;
  uint64_t tail_ = 0;
};

class ShmConnection final : public Connection {
 public:
  ShmConnection(const TransportContext& ctx, int connection, int peer)
      : ctx_(ctx), peer_(peer), peerControl_(RankControl::open(ctx.commId, peer)) {
    sendFifo_.attach(fifoName(ctx.commId, connection, ctx.rank, peer), ctx.slots);
    recvFifo_.attach(fifoName(ctx.commId, connection, peer, ctx.rank), ctx.slots);
    sender_ = std::make_unique<ShmSender>(sendFifo_, peerControl_);
    // The sender rings us when it posts; we ring the sender when we free a slot.
    receiver_ = std::make_unique<ShmReceiver>(recvFifo_, peerControl_);
  }
  SendEndpoint& sender() override { return *sender_; }
  RecvEndpoint& receiver() override { return *receiver_; }
  bool progress() override { return false; }
  // Posted data is safe once the peer has mapped the FIFO (the mapping outlives our exit); before
  // that, leaving would unlink a FIFO the peer still has to open.
  bool sendDrained() const override {
    return sendFifo_.view.header->attached.load(std::memory_order_acquire) >= 2;
  }
  bool usesDoorbell() const override { return true; }
  void addPollFds(std::vector<pollfd>&) override {}

  void checkPeer() override {
    const ControlBlock* b = peerControl_.block();
    if (b->aborted.load(std::memory_order_acquire) != 0)
      throw Error(ErrorCode::kRemote, peerAborted(describe(), b->reason));
    const PeerRecord& rec = (*ctx_.peers)[peer_];
    if (rec.pid != getpid() && kill(rec.pid, 0) != 0 && errno == ESRCH) {
      // It cannot remove its control block any more: do it for it.
      shm_unlink(RankControl::segmentName(ctx_.commId, peer_).c_str());
      throwError(ErrorCode::kRemote,
                 "%s has exited (its process is gone); check that rank's output for the cause",
                 describe().c_str());
    }
  }

  std::string describe() const override {
    const PeerRecord& rec = (*ctx_.peers)[peer_];
    return formatString("rank %d (host %s, pid %d) over shm", peer_, rec.hostName.c_str(), rec.pid);
  }

 private:
  const TransportContext& ctx_;
  int peer_;
  RankControl peerControl_;
  MappedFifo sendFifo_;
  MappedFifo recvFifo_;
  std::unique_ptr<ShmSender> sender_;
  std::unique_ptr<ShmReceiver> receiver_;
};

class ShmTransport final : public Transport {
 public:
  explicit ShmTransport(const TransportContext& ctx) : ctx_(ctx) {}
  const char* name() const override { return "shm"; }
  std::string localAddress() override { return {}; }
  bool canReach(const PeerRecord& self, const PeerRecord& peer) const override {
    return self.hostHash == peer.hostHash;
  }
  Connection* connect(int connectionId, int peer) override {
    auto key = std::make_pair(connectionId, peer);
    auto it = connections_.find(key);
    if (it != connections_.end()) return it->second.get();
    auto conn = std::make_unique<ShmConnection>(ctx_, connectionId, peer);
    PLEXUS_INFO(subsys::kShm, "connection %d to rank %d over shm (%u slots of %u bytes)",
                connectionId, peer, ctx_.slots.slots, ctx_.slots.slotBytes);
    Connection* raw = conn.get();
    connections_.emplace(key, std::move(conn));
    return raw;
  }
  bool progress() override { return false; }
  void addPollFds(std::vector<pollfd>&) override {}
  bool needsPolling() const override { return false; }
  void abortAll(const std::string&) override {}  // peers read the reason from our control block

 private:
  const TransportContext& ctx_;
  std::map<std::pair<int, int>, std::unique_ptr<ShmConnection>> connections_;
};

}  // namespace

std::unique_ptr<Transport> makeShmTransport(const TransportContext& ctx) {
  return std::make_unique<ShmTransport>(ctx);
}

}  // namespace plexus::transport

namespace plexus::transport {
const plexus_transport_v1_t* builtinShmTable() {
  static const plexus_transport_v1_t table = exportTransport<makeShmTransport>(
      "shm", PLEXUS_TP_FLAG_SAME_HOST_ONLY | PLEXUS_TP_FLAG_DOORBELL);
  return &table;
}
}  // namespace plexus::transport
