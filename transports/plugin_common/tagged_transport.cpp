// Slot FIFOs over a tagged-message fabric with credits, side band and failure handling (see
// tagged_transport.hpp).
#include "transports/plugin_common/tagged_transport.hpp"

#include <poll.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <set>

#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/common/abort_reason.hpp"
#include "transports/common/loaded_transport.hpp"
#include "transports/plugin_common/address_blob.hpp"
#include "transports/plugin_common/sideband.hpp"
#include "transports/plugin_common/slot_arena.hpp"
#include "transports/plugin_common/slot_flow.hpp"
#include "transports/plugin_common/wake_fds.hpp"

namespace plexus::transport {
namespace {

constexpr int kCreditRecvs = 4;
enum OpKind { kDataSend = 1, kDataRecv, kCreditSend, kCreditRecv };

class TaggedTransportImpl;

class TaggedConnection final : public Connection,
                               public SendEndpoint,
                               public RecvEndpoint,
                               public FabricOpHandler {
 public:
  TaggedConnection(TaggedTransportImpl& owner, int connection, int peer);
  // Registers the FIFOs and posts the receives of the first `slots` frames and the credits.
  void start();

  SendEndpoint& sender() override { return *this; }
  RecvEndpoint& receiver() override { return *this; }

  std::byte* acquire() override {
    failIfBroken();
    if (!sf_.canAcquire()) return nullptr;
    return send_.payload(sf_.next());
  }
  void post(uint32_t bytes, uint32_t tag) override {
    failIfBroken();
    if (!sf_.canAcquire())
      throwError(ErrorCode::kInternal, "%s: post without a free slot", describe().c_str());
    if (bytes > send_.slotBytes())
      throwError(ErrorCode::kInvalidArgument, "%s: %u bytes posted into a slot of %u",
                 describe().c_str(), bytes, send_.slotBytes());
    *send_.header(sf_.next()) = FrameHeader{bytes, tag};
    sf_.post();
    transmit();
  }
  const std::byte* peek(uint32_t* bytes, uint32_t* tag) override {
    if (!rf_.ready()) {
      failIfBroken();
      return nullptr;
    }
    const FrameHeader* h = recv_.header(rf_.head());
    *bytes = h->bytes;
    *tag = h->tag;
    return recv_.payload(rf_.head());
  }
  void release() override {
    if (!rf_.ready())
      throwError(ErrorCode::kInternal, "%s: release without a received slot", describe().c_str());
    uint64_t n = rf_.head();
    rf_.release();
    postRecv(n + rf_.slots());
    sendCredit();
  }

  bool progress() override { return pump(); }
  // Retries what the fabric refused and transmits frames that got credits. Throws when broken.
  bool pump() {
    failIfBroken();
    bool moved = false;
    while (!backlog_.empty()) {
      if (!postNow(*backlog_.front())) break;
      backlog_.pop_front();
      moved = true;
    }
    uint64_t before = sf_.transmittedCount();
    transmit();
    return moved || sf_.transmittedCount() != before;
  }
  void checkPeer() override;
  bool sendDrained() const override { return sf_.drained(); }
  // Everything sent has been consumed by the peer and every credit owed has left.
  bool flushed() const {
    return sf_.drained() && sf_.consumed() &&
           (creditsDropped_ || (!creditInFlight_ && !rf_.creditDue())) && backlog_.empty();
  }
  bool broken() const { return !broken_.empty(); }
  // The fabric refused a post (retry without sleeping).
  bool busy() const { return !backlog_.empty() || transmitBusy_; }
  std::string describe() const override;
  int peer() const { return peer_; }

  void onComplete(FabricOp& op, bool ok, size_t length, const std::string& error) override;

 private:
  void failIfBroken() const {
    if (!broken_.empty()) failBroken();
  }
  // The fabric's error is often a symptom (the peer closed its endpoint because a third rank
  // failed): the side band says whether the peer aborted, naming the first failure, or died.
  [[noreturn]] void failBroken() const;
  void breakWith(const std::string& what) {
    if (broken_.empty()) broken_ = describe() + ": " + what;
  }
  bool postNow(FabricOp& op);
  void submit(FabricOp& op) {
    if (!backlog_.empty() || !postNow(op)) backlog_.push_back(&op);
  }
  void postRecv(uint64_t frame);
  void transmit();
  void sendCredit();
  // A peer may finish its last call and exit before this rank has released the frames it sent:
  // it reads no more credits, so a credit that cannot reach an exited peer is dropped, not an
  // error (data this rank still expects from it fails in checkPeer; data for it, in post).
  bool peerExited() const;
  void dropCredits();

  TaggedTransportImpl& owner_;
  TaggedFabric& fabric_;
  int connection_;
  int peer_;
  int rank_;
  SlotArena send_;
  SlotArena recv_;
  // Credit words: [0] the one being sent, [1..kCreditRecvs] receive buffers.
  std::unique_ptr<uint64_t[]> credits_;
  void* sendDesc_ = nullptr;
  void* recvDesc_ = nullptr;
  void* creditDesc_ = nullptr;
  std::vector<FabricOp> sendOps_;
  std::vector<FabricOp> recvOps_;
  std::vector<FabricOp> creditRecvOps_;
  FabricOp creditSendOp_;
  flow::SendFlow sf_;
  flow::RecvFlow rf_;
  bool creditInFlight_ = false;
  bool creditsDropped_ = false;  // the peer exited (dropCredits)
  bool transmitBusy_ = false;
  std::deque<FabricOp*> backlog_;
  std::string broken_;
};

class TaggedTransportImpl final : public Transport {
 public:
  TaggedTransportImpl(const TransportContext& ctx, const TaggedTransportOptions& options,
                      std::unique_ptr<TaggedFabric> fabric)
      : ctx_(ctx), options_(options), fabric_(std::move(fabric)), sideband_(ctx, options.name) {
    if (ctx.rank > tags::kMaxRank)
      throwError(ErrorCode::kInvalidUsage, "%s transport: supports at most %d ranks", options.name,
                 tags::kMaxRank + 1);
    AddressBlob b;
    const SocketAddress& sb = sideband_.address();
    b.fields[AddressBlob::kSideband] =
        std::string(reinterpret_cast<const char*>(&sb.storage), sb.length);
    b.fields[AddressBlob::kFabric] = fabric_->localAddress();
    address_ = b.encode();
    PLEXUS_INFO(subsys::kNet, "%s transport ready over %s", options.name,
                fabric_->describe().c_str());
  }

  ~TaggedTransportImpl() override {
    flush();
    fabric_.reset();  // closes the endpoint: nothing refers to the connections' memory any more
    connections_.clear();
  }

  const char* name() const override { return options_.name; }
  std::string localAddress() override { return address_; }
  bool canReach(const PeerRecord& self, const PeerRecord& peer) const override {
    if (peer.addresses.count(options_.name) == 0) return false;
    return !options_.sameHostOnly || self.hostHash == peer.hostHash;
  }

  // Returns the connection as soon as the side band to the peer exists (the lower rank makes it
  // at once; the higher rank waits for it), never waiting for the peer to create its side: a
  // frame sent before the peer posts its receives waits in the fabric's unexpected queue. So,
  // as with tcp, only higher ranks wait for lower ranks, and connection orders cannot deadlock.
  Connection* connect(int connectionId, int peer) override {
    if (connectionId < 0 || connectionId > tags::kMaxConnection)
      throwError(ErrorCode::kInvalidUsage, "%s transport: connection id %d out of range (0..%d)",
                 options_.name, connectionId, tags::kMaxConnection);
    auto key = std::make_pair(connectionId, peer);
    const PeerAddress& pa = peerAddress(peer);
    if (!sideband_.ensure(peer, pa.sideband)) {
      sideband_.progress();
      std::string why;
      if (sideband_.peerGone(peer, &why))
        throwError(ErrorCode::kRemote, "%s %s while connecting", sideband_.peerName(peer).c_str(),
                   why.c_str());
      return nullptr;
    }
    if (fabricPeers_.insert(peer).second) fabric_->addPeer(peer, pa.fabric);
    auto conn = std::make_unique<TaggedConnection>(*this, connectionId, peer);
    conn->start();
    PLEXUS_INFO(subsys::kNet, "connection %d to rank %d over %s (%u slots of %u bytes)",
                connectionId, peer, fabric_->describe().c_str(), ctx_.slots.slots,
                ctx_.slots.slotBytes);
    Connection* raw = conn.get();
    connections_.emplace(key, std::move(conn));
    return raw;
  }

  bool progress() override {
    bool moved = sideband_.progress();
    moved |= fabric_->progress();
    for (auto& [key, c] : connections_) moved |= c->pump();
    return moved;
  }

  void addPollFds(std::vector<pollfd>& fds) override {
    sideband_.addPollFds(fds);
    bool busy = false;
    for (auto& [key, c] : connections_) busy |= c->busy();
    if (!fabric_->waitFds(fds, &busy)) fds.push_back(wake_.nap(std::chrono::microseconds(50)));
    if (busy) fds.push_back(wake_.ready());
  }
  WakeSources wakeSources() const override { return {nullptr, true}; }
  Costs costs() const override {
    Costs c = costsFromDevices(devices(), options_.name);
    c.registerCaps = registrationCaps();
    c.registersMemory = c.registerCaps != 0;
    return c;
  }
  void abortAll(const std::string& reason) override { sideband_.abortAll(reason); }
  std::vector<plexus_tp_device_t> devices() const override { return {fabric_->device()}; }
  uint32_t registrationCaps() const override { return fabric_->registrationCaps(); }
  MemoryRegistration registerMemory(const MemoryRegion& region) override {
    return fabric_->registerRegion(region);
  }
  void deregisterMemory(void* handle) override { fabric_->deregisterRegion(handle); }

  TaggedFabric& fabric() { return *fabric_; }
  Sideband& sideband() { return sideband_; }
  const TransportContext& context() const { return ctx_; }
  const char* transportName() const { return options_.name; }

 private:
  struct PeerAddress {
    SocketAddress sideband;
    std::string fabric;
  };

  const PeerAddress& peerAddress(int peer) {
    auto it = peerAddresses_.find(peer);
    if (it != peerAddresses_.end()) return it->second;
    const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(peer)];
    auto blob = rec.addresses.find(options_.name);
    std::string who = formatString("rank %d (host %s)", peer, rec.hostName.c_str());
    if (blob == rec.addresses.end())
      throwError(ErrorCode::kInternal, "%s published no %s address", who.c_str(), options_.name);
    AddressBlob b = AddressBlob::decode(blob->second, who, options_.name);
    const std::string* sb = b.field(AddressBlob::kSideband);
    const std::string* fa = b.field(AddressBlob::kFabric);
    if (sb == nullptr || fa == nullptr || sb->size() > sizeof(sockaddr_storage) || sb->empty())
      throwError(ErrorCode::kInvalidUsage,
                 "%s published a %s address without side band or fabric address; check that "
                 "every rank runs the same Plexus build",
                 who.c_str(), options_.name);
    PeerAddress pa;
    pa.sideband = SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(sb->data()),
                                              static_cast<socklen_t>(sb->size()));
    pa.fabric = *fa;
    return peerAddresses_.emplace(peer, std::move(pa)).first->second;
  }

  // Before the endpoint closes: lets the peers consume what this rank sent and receive the credits
  // it owes them, so nothing in flight is lost. Bounded; skipped after an abort.
  void flush() {
    if ((ctx_.abort != nullptr && ctx_.abort->load()) || sideband_.aborted()) return;
    auto limit = std::min<std::chrono::milliseconds>(std::chrono::seconds(5), defaultTimeout());
    Deadline deadline = Deadline::after(limit);
    while (!deadline.expired()) {
      bool done = true;
      for (auto& [key, c] : connections_)
        if (!c->flushed() && !c->broken() && !sideband_.peerGone(key.second, nullptr)) done = false;
      if (done) return;
      try {
        if (!progress()) {
          std::vector<pollfd> fds;
          addPollFds(fds);
          ::poll(fds.data(), fds.size(), 1);
        }
      } catch (const Error&) {
        return;
      }
    }
    PLEXUS_INFO(subsys::kNet, "%s transport: closing with data still in flight after %lld ms",
                options_.name, static_cast<long long>(limit.count()));
  }

  const TransportContext& ctx_;
  TaggedTransportOptions options_;
  std::unique_ptr<TaggedFabric> fabric_;
  Sideband sideband_;
  WakeFds wake_;
  std::string address_;
  std::map<int, PeerAddress> peerAddresses_;
  std::set<int> fabricPeers_;
  std::map<std::pair<int, int>, std::unique_ptr<TaggedConnection>> connections_;
};

TaggedConnection::TaggedConnection(TaggedTransportImpl& owner, int connection, int peer)
    : owner_(owner),
      fabric_(owner.fabric()),
      connection_(connection),
      peer_(peer),
      rank_(owner.context().rank),
      send_(owner.context().slots.slots, owner.context().slots.slotBytes),
      recv_(owner.context().slots.slots, owner.context().slots.slotBytes),
      credits_(new uint64_t[1 + kCreditRecvs]()),
      sendOps_(owner.context().slots.slots),
      recvOps_(owner.context().slots.slots),
      creditRecvOps_(kCreditRecvs),
      sf_(owner.context().slots.slots),
      rf_(owner.context().slots.slots) {}

void TaggedConnection::start() {
  sendDesc_ = fabric_.registerMemory(send_.base(), send_.size());
  recvDesc_ = fabric_.registerMemory(recv_.base(), recv_.size());
  creditDesc_ = fabric_.registerMemory(credits_.get(), sizeof(uint64_t) * (1 + kCreditRecvs));
  for (uint64_t n = 0; n < rf_.slots(); ++n) postRecv(n);
  for (int i = 0; i < kCreditRecvs; ++i) {
    FabricOp& op = creditRecvOps_[static_cast<size_t>(i)];
    op.handler = this;
    op.kind = kCreditRecv;
    op.frame = static_cast<uint64_t>(i);
    op.send = false;
    op.buf = &credits_[static_cast<size_t>(1 + i)];
    op.len = sizeof(uint64_t);
    op.desc = creditDesc_;
    op.tag = tags::make(tags::kCredit, connection_, peer_, 0);
    submit(op);
  }
  creditSendOp_.handler = this;
  creditSendOp_.kind = kCreditSend;
  creditSendOp_.send = true;
  creditSendOp_.peer = peer_;
  creditSendOp_.buf = &credits_[0];
  creditSendOp_.len = sizeof(uint64_t);
  creditSendOp_.desc = creditDesc_;
  creditSendOp_.tag = tags::make(tags::kCredit, connection_, rank_, 0);
}

bool TaggedConnection::postNow(FabricOp& op) {
  try {
    if (!fabric_.post(op)) return false;
  } catch (const Error&) {
    if (op.kind != kCreditSend || !peerExited()) throw;
    dropCredits();
    return true;
  }
  op.inFlight = true;
  return true;
}

bool TaggedConnection::peerExited() const {
  return fabric_.peerExited(peer_) || owner_.sideband().peerGone(peer_, nullptr);
}

void TaggedConnection::dropCredits() {
  creditsDropped_ = true;
  creditInFlight_ = false;
}

void TaggedConnection::postRecv(uint64_t frame) {
  FabricOp& op = recvOps_[static_cast<size_t>(frame % rf_.slots())];
  op.handler = this;
  op.kind = kDataRecv;
  op.frame = frame;
  op.send = false;
  op.buf = recv_.message(frame);
  op.len = sizeof(FrameHeader) + recv_.slotBytes();
  op.desc = recvDesc_;
  op.tag = tags::make(tags::kData, connection_, peer_, frame);
  submit(op);
}

void TaggedConnection::transmit() {
  transmitBusy_ = false;
  while (broken_.empty() && sf_.canTransmit()) {
    uint64_t n = sf_.nextToTransmit();
    FabricOp& op = sendOps_[static_cast<size_t>(n % sf_.slots())];
    op.handler = this;
    op.kind = kDataSend;
    op.frame = n;
    op.send = true;
    op.peer = peer_;
    op.buf = send_.message(n);
    op.len = sizeof(FrameHeader) + send_.header(n)->bytes;
    op.desc = sendDesc_;
    op.tag = tags::make(tags::kData, connection_, rank_, n);
    if (!postNow(op)) {
      transmitBusy_ = true;
      return;
    }
    sf_.transmitted();
  }
}

void TaggedConnection::sendCredit() {
  if (creditInFlight_ || creditsDropped_ || !rf_.creditDue() || !broken_.empty()) return;
  credits_[0] = rf_.released();
  rf_.creditSent(credits_[0]);
  creditInFlight_ = true;
  submit(creditSendOp_);
}

void TaggedConnection::onComplete(FabricOp& op, bool ok, size_t length, const std::string& error) {
  op.inFlight = false;
  if (!ok && op.kind == kCreditSend && peerExited()) {
    dropCredits();
    return;
  }
  if (!ok) {
    const char* what = op.send ? "sending" : "receiving";
    breakWith(formatString("%s failed: %s (the peer may have exited or the network failed)", what,
                           error.c_str()));
    return;
  }
  switch (op.kind) {
    case kDataSend:
      if (!sf_.complete(op.frame))
        breakWith(formatString("completion of frame %llu that was not in flight",
                               static_cast<unsigned long long>(op.frame)));
      break;
    case kDataRecv: {
      const FrameHeader* h = recv_.header(op.frame);
      if (length == kUnknownLength) length = sizeof(FrameHeader) + h->bytes;
      if (length < sizeof(FrameHeader) || h->bytes != length - sizeof(FrameHeader) ||
          h->bytes > recv_.slotBytes()) {
        breakWith(
            formatString("received a damaged frame (%zu bytes, header says %u); check that "
                         "every rank runs the same Plexus build and PLEXUS_SLOT_SIZE",
                         length, h->bytes));
      } else if (!rf_.arrive(op.frame)) {
        breakWith(formatString("received frame %llu outside the FIFO window",
                               static_cast<unsigned long long>(op.frame)));
      }
      break;
    }
    case kCreditSend:
      creditInFlight_ = false;
      sendCredit();
      break;
    case kCreditRecv: {
      uint64_t count = credits_[static_cast<size_t>(1 + op.frame)];
      if (!sf_.credit(count)) {
        breakWith(formatString("received a credit for %llu frames, more than were sent (%llu)",
                               static_cast<unsigned long long>(count),
                               static_cast<unsigned long long>(sf_.transmittedCount())));
        break;
      }
      submit(op);
      break;
    }
    default:
      break;
  }
}

void TaggedConnection::failBroken() const {
  owner_.sideband().failBroken(peer_, describe(), broken_);
}

void TaggedConnection::checkPeer() {
  failIfBroken();
  std::string why;
  if (fabric_.peerFailed(peer_, &why))
    owner_.sideband().failBroken(peer_, describe(), describe() + ": " + why);
  if (!rf_.ready() && owner_.sideband().peerGone(peer_, &why))
    throwError(ErrorCode::kRemote, "%s %s; check its output", describe().c_str(), why.c_str());
}

std::string TaggedConnection::describe() const {
  const PeerRecord& rec = (*owner_.context().peers)[static_cast<size_t>(peer_)];
  return formatString("rank %d (host %s, pid %d) over %s", peer_, rec.hostName.c_str(), rec.pid,
                      fabric_.describe().c_str());
}

}  // namespace

std::unique_ptr<Transport> makeTaggedTransport(const TransportContext& ctx,
                                               const TaggedTransportOptions& options,
                                               std::unique_ptr<TaggedFabric> fabric) {
  return std::make_unique<TaggedTransportImpl>(ctx, options, std::move(fabric));
}

}  // namespace plexus::transport
