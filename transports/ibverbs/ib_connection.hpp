// One ibverbs connection: its queue pairs, slot FIFOs and credits (see ib_transport.cpp).
#pragma once

#include <infiniband/verbs.h>

#include <memory>
#include <string>
#include <vector>

#include "transports/common/transport.hpp"
#include "transports/ibverbs/ib_device.hpp"
#include "transports/ibverbs/ib_wire.hpp"
#include "transports/plugin_common/sideband.hpp"
#include "transports/plugin_common/slot_arena.hpp"
#include "transports/plugin_common/slot_flow.hpp"

namespace plexus::transport::ib {

constexpr int kReadyKey = 1 << 20;  // side-band key offset of the "ready" message
constexpr uint32_t kStripe = 64 * 1024;
constexpr uint64_t kKindSend = 1, kKindCredit = 2, kKindRecv = 3;

inline uint64_t wrId(uint64_t kind, uint64_t index) {
  return (kind << 32) | index;
}

// What a connection needs of its transport.
class IbOwner {
 public:
  virtual ~IbOwner() = default;
  virtual const TransportContext& context() const = 0;
  virtual const IbOptions& options() const = 0;
  virtual Sideband& sideband() = 0;
};

class IbConnection final : public Connection, public SendEndpoint, public RecvEndpoint {
 public:
  IbConnection(IbOwner& owner, int connection, int peer, IbPort& port);
  ~IbConnection() override;

  SendEndpoint& sender() override { return *this; }
  RecvEndpoint& receiver() override { return *this; }

  std::byte* acquire() override {
    failIfBroken();
    if (!sf_.canAcquire()) {
      poll();
      if (!sf_.canAcquire()) return nullptr;
    }
    return send_.payload(sf_.next());
  }
  void post(uint32_t bytes, uint32_t tag) override {
    failIfBroken();
    if (bytes > send_.slotBytes())
      throwError(ErrorCode::kInvalidArgument, "%s: %u bytes posted into a slot of %u",
                 describe().c_str(), bytes, send_.slotBytes());
    *send_.header(sf_.next()) = FrameHeader{bytes, tag};
    sf_.post();
    transmit();
  }
  const std::byte* peek(uint32_t* bytes, uint32_t* tag) override {
    if (!rf_.ready()) poll();
    if (!rf_.ready()) {
      failIfBroken();
      return nullptr;
    }
    const FrameHeader* h = recv_.header(rf_.head());
    if (h->bytes > recv_.slotBytes())
      throwError(ErrorCode::kRemote, "%s wrote a damaged frame header (%u bytes)",
                 describe().c_str(), h->bytes);
    *bytes = h->bytes;
    *tag = h->tag;
    return recv_.payload(rf_.head());
  }
  void release() override {
    rf_.release();
    sendCredit();
  }

  bool progress() override { return poll(); }
  // Setup messages from the side band, completions, frames that got credits.
  bool poll();
  void checkPeer() override;
  bool sendDrained() const override { return sf_.drained(); }
  bool flushed() const {
    return sf_.drained() && sf_.consumed() && !creditInFlight_ && !rf_.creditDue();
  }
  bool broken() const { return !broken_.empty(); }
  std::string describe() const override;
  // Arms the CQ for an event; false if completions are already waiting.
  bool arm();
  int peer() const { return peer_; }

 private:
  void failIfBroken() const {
    if (!broken_.empty()) failBroken();
  }
  // A broken queue pair is often a symptom (the peer aborted because a third rank failed): the
  // side band says whether the peer aborted, naming the first failure, or died.
  [[noreturn]] void failBroken() const;
  void breakWith(const std::string& what) {
    if (broken_.empty()) broken_ = describe() + ": " + what;
  }
  void modify(ibv_qp* qp, ibv_qp_attr& attr, int mask, const char* state);
  void connectQps(const ib::ConnInfo& remote);
  void postRecv(size_t qp);
  void transmit();
  void sendCredit();
  bool drainCq();

  IbOwner& owner_;
  int connection_;
  int peer_;
  IbPort& port_;
  SlotArena send_;
  SlotArena recv_;
  struct alignas(64) Control {
    volatile uint64_t credit;  // written by the peer: frames it released
    uint64_t creditSource;     // what this rank writes into the peer's credit word
  };
  std::unique_ptr<Control> control_;
  ib::MrCache::Handle sendMr_ = nullptr, recvMr_ = nullptr, controlMr_ = nullptr;
  ibv_cq* cq_ = nullptr;
  unsigned unackedEvents_ = 0;
  std::vector<ibv_qp*> qps_;
  std::vector<uint32_t> psn_;
  ib::ConnInfo remote_;
  bool localRts_ = false;             // this side's QPs are in RTS (credits may go)
  bool wired_ = false;                // the peer's QPs accept writes (frames may go)
  std::vector<uint32_t> piecesLeft_;  // per staging slot
  flow::SendFlow sf_;
  flow::RecvFlow rf_;
  bool creditInFlight_ = false;
  std::string broken_;
};

}  // namespace plexus::transport::ib
