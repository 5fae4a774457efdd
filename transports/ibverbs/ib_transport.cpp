// The ibverbs transport plugin (libplexus-transport-ibverbs.so): reliable-connected queue pairs,
// RDMA write with immediate straight into the receiver's slot FIFO, credits returned the same way
// into the sender's credit word, several QPs per connection with large slots striped across them,
// memory registered through the MR cache, ports chosen by PLEXUS_IB_HCA and the GID by
// PLEXUS_IB_GID_INDEX (RoCE v2 preferred). The side band (plugin_common/sideband.hpp) carries the
// queue pair numbers and FIFO keys, abort notices, and tells when a peer is gone.
//
// Connection setup, per connection id: each side creates its QPs (INIT), posts receives and sends
// its ConnInfo; on the peer's ConnInfo it moves its QPs to RTR and RTS and sends "ready"; frames
// are written only after the peer's "ready" (its QPs accept them). connect() never waits for the
// peer (posted frames wait in the FIFO until then), so connection orders cannot deadlock.
//
// Without an RDMA device the factory says so (Error kInvalidUsage) and Plexus skips the transport.
#include <arpa/inet.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <stdlib.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/common/loaded_transport.hpp"
#include "transports/common/transport.hpp"
#include "transports/ibverbs/hca_list.hpp"
#include "transports/ibverbs/ib_wire.hpp"
#include "transports/ibverbs/mr_cache.hpp"
#include "transports/plugin_common/abi_export.hpp"
#include "transports/plugin_common/address_blob.hpp"
#include "transports/plugin_common/sideband.hpp"
#include "transports/plugin_common/slot_arena.hpp"
#include "transports/plugin_common/slot_flow.hpp"
#include "transports/plugin_common/wake_fds.hpp"

namespace plexus::transport {
namespace {

using ib::LinkLayer;

constexpr int kReadyKey = 1 << 20;  // side-band key offset of the "ready" message
constexpr uint32_t kStripe = 64 * 1024;
constexpr uint64_t kKindSend = 1, kKindCredit = 2, kKindRecv = 3;

uint64_t wrId(uint64_t kind, uint64_t index) {
  return (kind << 32) | index;
}

struct IbOptions {
  int qps = 1;
  int timeout = 18;
  int retry = 7;
  int sl = 0;
  int tc = 0;
  size_t mrCache = 256;
  std::optional<int> gidIndex;
};

IbOptions ibOptionsFromEnv() {
  IbOptions o;
  auto bounded = [](const char* name, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
      throwError(ErrorCode::kInvalidArgument, "PLEXUS_%s=%lld must be between %lld and %lld", name,
                 static_cast<long long>(v), static_cast<long long>(lo), static_cast<long long>(hi));
    return static_cast<int>(v);
  };
  o.qps = bounded("IB_QPS_PER_CONNECTION", envInt("IB_QPS_PER_CONNECTION", 1), 1, 16);
  o.timeout = bounded("IB_TIMEOUT", envInt("IB_TIMEOUT", 18), 1, 31);
  o.retry = bounded("IB_RETRY_CNT", envInt("IB_RETRY_CNT", 7), 0, 7);
  o.sl = bounded("IB_SL", envInt("IB_SL", 0), 0, 15);
  o.tc = bounded("IB_TC", envInt("IB_TC", 0), 0, 255);
  o.mrCache =
      static_cast<size_t>(bounded("IB_MR_CACHE_SIZE", envInt("IB_MR_CACHE_SIZE", 256), 1, 1 << 20));
  if (envGet("IB_GID_INDEX"))
    o.gidIndex = bounded("IB_GID_INDEX", envInt("IB_GID_INDEX", 0), 0, 1 << 16);
  return o;
}

// ibv_reg_mr/ibv_dereg_mr for the MR cache.
class VerbsRegistrar final : public ib::Registrar {
 public:
  explicit VerbsRegistrar(ibv_pd* pd, std::string device) : pd_(pd), device_(std::move(device)) {}
  void* reg(void* addr, size_t length) override {
    ibv_mr* mr =
        ibv_reg_mr(pd_, addr, length,
                   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
    if (mr == nullptr)
      throwSystemError(errno,
                       "ibverbs transport: ibv_reg_mr of %zu bytes on %s failed (check the locked "
                       "memory limit, ulimit -l)",
                       length, device_.c_str());
    return mr;
  }
  void dereg(void* registration) override { ibv_dereg_mr(static_cast<ibv_mr*>(registration)); }

 private:
  ibv_pd* pd_;
  std::string device_;
};

// One opened RDMA device: context, protection domain, completion channel, MR cache.
struct IbDevice {
  std::string name;
  ibv_context* ctx = nullptr;
  ibv_pd* pd = nullptr;
  ibv_comp_channel* channel = nullptr;
  std::unique_ptr<VerbsRegistrar> registrar;
  std::unique_ptr<ib::MrCache> mrs;

  ~IbDevice() {
    mrs.reset();
    if (channel != nullptr) ibv_destroy_comp_channel(channel);
    if (pd != nullptr) ibv_dealloc_pd(pd);
    if (ctx != nullptr) ibv_close_device(ctx);
  }
};

// One usable port of a device.
struct IbPort {
  IbDevice* device = nullptr;
  int port = 0;
  ibv_port_attr attr{};
  int gidIndex = 0;
  ibv_gid gid{};
  LinkLayer linkLayer = LinkLayer::kInfiniBand;
  double gbps = 0;
  std::string pciPath;
  std::string name() const { return device->name + ":" + std::to_string(port); }
};

class IbTransport;

class IbConnection final : public Connection, public SendEndpoint, public RecvEndpoint {
 public:
  IbConnection(IbTransport& owner, int connection, int peer, IbPort& port);
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

  IbTransport& owner_;
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

class IbTransport final : public Transport {
 public:
  IbTransport(const TransportContext& ctx, IbOptions options,
              std::vector<std::unique_ptr<IbDevice>> devices, std::vector<IbPort> ports)
      : ctx_(ctx),
        options_(options),
        devices_(std::move(devices)),
        ports_(std::move(ports)),
        sideband_(ctx, "ibverbs") {
    AddressBlob b;
    const SocketAddress& sb = sideband_.address();
    b.fields[AddressBlob::kSideband] =
        std::string(reinterpret_cast<const char*>(&sb.storage), sb.length);
    std::vector<ib::PortAddress> pa;
    for (const IbPort& p : ports_) {
      ib::PortAddress a;
      a.subnetPrefix = p.linkLayer == LinkLayer::kInfiniBand ? p.gid.global.subnet_prefix : 0;
      a.lid = p.attr.lid;
      a.port = static_cast<uint8_t>(p.port);
      a.linkLayer = p.linkLayer;
      std::memcpy(a.gid.data(), p.gid.raw, 16);
      pa.push_back(a);
    }
    b.fields[AddressBlob::kPorts] = ib::encodePorts(pa);
    address_ = b.encode();
  }

  ~IbTransport() override {
    flush();
    connections_.clear();
  }

  const char* name() const override { return "ibverbs"; }
  std::string localAddress() override { return address_; }
  bool canReach(const PeerRecord&, const PeerRecord& peer) const override {
    auto it = peer.addresses.find("ibverbs");
    if (it == peer.addresses.end()) return false;
    try {
      auto remote = remotePorts(peer.rank, it->second);
      return !compatiblePorts(remote).empty();
    } catch (const Error&) {
      return false;
    }
  }

  Connection* connect(int connectionId, int peer) override {
    auto key = std::make_pair(connectionId, peer);
    const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(peer)];
    std::string who = formatString("rank %d (host %s)", peer, rec.hostName.c_str());
    auto blob = rec.addresses.find("ibverbs");
    if (blob == rec.addresses.end())
      throwError(ErrorCode::kInternal, "%s published no ibverbs address", who.c_str());
    AddressBlob b = AddressBlob::decode(blob->second, who, "ibverbs");
    const std::string* sb = b.field(AddressBlob::kSideband);
    if (sb == nullptr || sb->empty() || sb->size() > sizeof(sockaddr_storage))
      throwError(ErrorCode::kInvalidUsage, "%s published an ibverbs address without side band",
                 who.c_str());
    SocketAddress addr = SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(sb->data()),
                                                     static_cast<socklen_t>(sb->size()));
    if (!sideband_.ensure(peer, addr)) {
      sideband_.progress();
      return nullptr;
    }
    auto compatible = compatiblePorts(remotePorts(peer, blob->second));
    if (compatible.empty())
      throwError(ErrorCode::kInvalidUsage,
                 "%s has no RDMA port on this rank's fabrics; check PLEXUS_IB_HCA on both",
                 who.c_str());
    IbPort& port = *compatible[static_cast<size_t>(connectionId) % compatible.size()];
    auto conn = std::make_unique<IbConnection>(*this, connectionId, peer, port);
    PLEXUS_INFO(subsys::kNet, "connection %d to rank %d over ibverbs (%s, %d QP%s)", connectionId,
                peer, port.name().c_str(), options_.qps, options_.qps == 1 ? "" : "s");
    IbConnection* raw = conn.get();
    connections_.emplace(key, std::move(conn));
    return raw;
  }

  bool progress() override {
    bool moved = sideband_.progress();
    for (auto& d : devices_) moved |= drainEvents(*d);
    for (auto& [key, c] : connections_) moved |= c->poll();
    return moved;
  }
  void addPollFds(std::vector<pollfd>& fds) override {
    sideband_.addPollFds(fds);
    bool busy = false;
    for (auto& [key, c] : connections_) busy |= !c->arm();
    for (auto& d : devices_) fds.push_back(pollfd{d->channel->fd, POLLIN, 0});
    if (busy) fds.push_back(wake_.ready());
  }
  WakeSources wakeSources() const override { return {nullptr, true}; }
  Costs costs() const override { return costsFromDevices(devices(), "ibverbs"); }
  void abortAll(const std::string& reason) override { sideband_.abortAll(reason); }
  std::vector<plexus_tp_device_t> devices() const override {
    std::vector<plexus_tp_device_t> out;
    for (const IbPort& p : ports_) {
      plexus_tp_device_t d{};
      std::snprintf(d.name, sizeof(d.name), "%s", p.name().c_str());
      std::snprintf(d.pci_path, sizeof(d.pci_path), "%s", p.pciPath.c_str());
      std::snprintf(d.link_layer, sizeof(d.link_layer), "%s",
                    p.linkLayer == LinkLayer::kInfiniBand ? "InfiniBand" : "Ethernet");
      d.bandwidth_gbps = p.gbps;
      d.latency_us = p.linkLayer == LinkLayer::kInfiniBand ? 1.5 : 3.0;
      d.mem_kinds = PLEXUS_TP_MEM_HOST;
      d.port = p.port;
      out.push_back(d);
    }
    return out;
  }

  const TransportContext& context() const { return ctx_; }
  const IbOptions& options() const { return options_; }
  Sideband& sideband() { return sideband_; }

 private:
  std::vector<ib::PortAddress> remotePorts(int peer, const std::string& blob) const {
    const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(peer)];
    std::string who = formatString("rank %d (host %s)", peer, rec.hostName.c_str());
    AddressBlob b = AddressBlob::decode(blob, who, "ibverbs");
    const std::string* ports = b.field(AddressBlob::kPorts);
    if (ports == nullptr) return {};
    return ib::decodePorts(*ports, who);
  }
  // Local ports that share a fabric with one of the peer's ports.
  std::vector<IbPort*> compatiblePorts(const std::vector<ib::PortAddress>& remote) const {
    std::vector<IbPort*> out;
    for (const IbPort& p : ports_)
      for (const ib::PortAddress& r : remote)
        if (r.linkLayer == p.linkLayer &&
            (p.linkLayer == LinkLayer::kEthernet || r.subnetPrefix == p.gid.global.subnet_prefix)) {
          out.push_back(const_cast<IbPort*>(&p));
          break;
        }
    return out;
  }
  bool drainEvents(IbDevice& d) {
    bool moved = false;
    while (true) {
      ibv_cq* cq = nullptr;
      void* cqContext = nullptr;
      if (ibv_get_cq_event(d.channel, &cq, &cqContext) != 0) break;  // EAGAIN: none
      ibv_ack_cq_events(cq, 1);
      moved = true;
    }
    return moved;
  }
  // Lets peers consume what this rank sent before the QPs go (bounded; skipped after an abort).
  void flush() {
    if ((ctx_.abort != nullptr && ctx_.abort->load()) || sideband_.aborted()) return;
    Deadline deadline = Deadline::after(
        std::min<std::chrono::milliseconds>(std::chrono::seconds(5), defaultTimeout()));
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
  }

  const TransportContext& ctx_;
  IbOptions options_;
  std::vector<std::unique_ptr<IbDevice>> devices_;
  std::vector<IbPort> ports_;
  Sideband sideband_;
  WakeFds wake_;
  std::string address_;
  std::map<std::pair<int, int>, std::unique_ptr<IbConnection>> connections_;
};

IbConnection::IbConnection(IbTransport& owner, int connection, int peer, IbPort& port)
    : owner_(owner),
      connection_(connection),
      peer_(peer),
      port_(port),
      send_(owner.context().slots.slots, owner.context().slots.slotBytes),
      recv_(owner.context().slots.slots, owner.context().slots.slotBytes),
      control_(new Control{}),
      piecesLeft_(owner.context().slots.slots, 0),
      sf_(owner.context().slots.slots),
      rf_(owner.context().slots.slots) {
  IbDevice& dev = *port_.device;
  const IbOptions& o = owner_.options();
  uint32_t slots = owner_.context().slots.slots;
  sendMr_ = dev.mrs->acquire(send_.base(), send_.size());
  recvMr_ = dev.mrs->acquire(recv_.base(), recv_.size());
  controlMr_ = dev.mrs->acquire(control_.get(), sizeof(Control));
  int perQp = static_cast<int>(2 * slots + 8);
  cq_ = ibv_create_cq(dev.ctx, perQp * 2 * o.qps + 16, this, dev.channel, 0);
  if (cq_ == nullptr)
    throwSystemError(errno, "ibverbs transport: ibv_create_cq on %s", port_.name().c_str());
  std::mt19937 rng(std::random_device{}());
  ib::ConnInfo info;
  for (int i = 0; i < o.qps; ++i) {
    ibv_qp_init_attr init{};
    init.send_cq = cq_;
    init.recv_cq = cq_;
    init.qp_type = IBV_QPT_RC;
    init.cap.max_send_wr = static_cast<uint32_t>(perQp);
    init.cap.max_recv_wr = static_cast<uint32_t>(perQp);
    init.cap.max_send_sge = 1;
    init.cap.max_recv_sge = 1;
    ibv_qp* qp = ibv_create_qp(dev.pd, &init);
    if (qp == nullptr)
      throwSystemError(errno, "ibverbs transport: ibv_create_qp on %s", port_.name().c_str());
    qps_.push_back(qp);
    psn_.push_back(rng() & 0xffffff);
    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_INIT;
    a.pkey_index = 0;
    a.port_num = static_cast<uint8_t>(port_.port);
    a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE;
    modify(qp, a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS, "INIT");
    for (uint32_t r = 0; r < 2 * slots; ++r) postRecv(static_cast<size_t>(i));
    info.qpn.push_back(qp->qp_num);
    info.psn.push_back(psn_.back());
  }
  if (ibv_req_notify_cq(cq_, 0) != 0)
    throwSystemError(errno, "ibverbs transport: ibv_req_notify_cq on %s", port_.name().c_str());
  info.slots = slots;
  info.slotBytes = owner_.context().slots.slotBytes;
  info.lid = port_.attr.lid;
  info.port = static_cast<uint8_t>(port_.port);
  info.mtu = static_cast<uint8_t>(port_.attr.active_mtu);
  info.linkLayer = port_.linkLayer;
  std::memcpy(info.gid.data(), port_.gid.raw, 16);
  info.fifoAddr = reinterpret_cast<uint64_t>(recv_.base());
  info.fifoRkey = static_cast<ibv_mr*>(recvMr_->registration)->rkey;
  info.creditAddr = reinterpret_cast<uint64_t>(&control_->credit);
  info.creditRkey = static_cast<ibv_mr*>(controlMr_->registration)->rkey;
  owner_.sideband().sendInfo(peer_, connection_, ib::encodeConnInfo(info));
}

IbConnection::~IbConnection() {
  for (ibv_qp* qp : qps_) ibv_destroy_qp(qp);
  if (cq_ != nullptr) {
    if (unackedEvents_ > 0) ibv_ack_cq_events(cq_, unackedEvents_);
    ibv_destroy_cq(cq_);
  }
  IbDevice& dev = *port_.device;
  for (auto h : {sendMr_, recvMr_, controlMr_})
    if (h != nullptr) dev.mrs->release(h);
  dev.mrs->invalidate(send_.base(), send_.size());
  dev.mrs->invalidate(recv_.base(), recv_.size());
  dev.mrs->invalidate(control_.get(), sizeof(Control));
}

void IbConnection::modify(ibv_qp* qp, ibv_qp_attr& attr, int mask, const char* state) {
  int rc = ibv_modify_qp(qp, &attr, mask);
  if (rc != 0)
    throwError(ErrorCode::kSystem,
               "ibverbs transport: moving a queue pair of %s on %s to %s failed: %s (check the "
               "GID index, PLEXUS_IB_GID_INDEX, and that both ports share a fabric)",
               describe().c_str(), port_.name().c_str(), state, std::strerror(rc));
}

void IbConnection::connectQps(const ib::ConnInfo& remote) {
  const IbOptions& o = owner_.options();
  if (remote.slots != rf_.slots() || remote.slotBytes != recv_.slotBytes() ||
      remote.qpn.size() != qps_.size())
    throwError(ErrorCode::kInvalidUsage,
               "%s uses %u slots of %u bytes and %zu QPs per connection, this rank %u of %u and "
               "%zu: set PLEXUS_SLOTS, PLEXUS_SLOT_SIZE and PLEXUS_IB_QPS_PER_CONNECTION alike",
               describe().c_str(), remote.slots, remote.slotBytes, remote.qpn.size(), rf_.slots(),
               recv_.slotBytes(), qps_.size());
  remote_ = remote;
  for (size_t i = 0; i < qps_.size(); ++i) {
    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_RTR;
    a.path_mtu = static_cast<ibv_mtu>(std::min<int>(remote.mtu, port_.attr.active_mtu));
    a.dest_qp_num = remote.qpn[i];
    a.rq_psn = remote.psn[i];
    a.max_dest_rd_atomic = 1;
    a.min_rnr_timer = 12;
    a.ah_attr.dlid = remote.lid;
    a.ah_attr.sl = static_cast<uint8_t>(o.sl);
    a.ah_attr.port_num = static_cast<uint8_t>(port_.port);
    if (port_.linkLayer == LinkLayer::kEthernet || remote.lid == 0) {
      a.ah_attr.is_global = 1;
      std::memcpy(a.ah_attr.grh.dgid.raw, remote.gid.data(), 16);
      a.ah_attr.grh.sgid_index = static_cast<uint8_t>(port_.gidIndex);
      a.ah_attr.grh.hop_limit = 255;
      a.ah_attr.grh.traffic_class = static_cast<uint8_t>(o.tc);
    }
    modify(qps_[i], a,
           IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
               IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER,
           "RTR");
    ibv_qp_attr s{};
    s.qp_state = IBV_QPS_RTS;
    s.timeout = static_cast<uint8_t>(o.timeout);
    s.retry_cnt = static_cast<uint8_t>(o.retry);
    s.rnr_retry = 7;
    s.sq_psn = psn_[i];
    s.max_rd_atomic = 1;
    modify(qps_[i], s,
           IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
               IBV_QP_MAX_QP_RD_ATOMIC,
           "RTS");
  }
  localRts_ = true;
  owner_.sideband().sendInfo(peer_, connection_ + kReadyKey, "ready");
}

void IbConnection::postRecv(size_t qp) {
  ibv_recv_wr wr{};
  wr.wr_id = wrId(kKindRecv, qp);
  wr.sg_list = nullptr;
  wr.num_sge = 0;
  ibv_recv_wr* bad = nullptr;
  int rc = ibv_post_recv(qps_[qp], &wr, &bad);
  if (rc != 0) breakWith(formatString("ibv_post_recv failed: %s", std::strerror(rc)));
}

void IbConnection::transmit() {
  if (!wired_) return;
  uint32_t lkey = static_cast<ibv_mr*>(sendMr_->registration)->lkey;
  while (broken_.empty() && sf_.canTransmit()) {
    uint64_t n = sf_.nextToTransmit();
    size_t length = sizeof(FrameHeader) + send_.header(n)->bytes;
    uint32_t parts = 1;
    if (qps_.size() > 1 && length > kStripe)
      parts =
          static_cast<uint32_t>(std::min<size_t>(qps_.size(), (length + kStripe - 1) / kStripe));
    size_t piece = (length + parts - 1) / parts;
    piece = (piece + 63) / 64 * 64;
    parts = static_cast<uint32_t>((length + piece - 1) / piece);
    piecesLeft_[n % sf_.slots()] = parts;
    for (uint32_t j = 0; j < parts; ++j) {
      size_t off = j * piece;
      size_t len = std::min(piece, length - off);
      ibv_sge sge{};
      sge.addr = reinterpret_cast<uint64_t>(send_.message(n)) + off;
      sge.length = static_cast<uint32_t>(len);
      sge.lkey = lkey;
      ibv_send_wr wr{};
      wr.wr_id = wrId(kKindSend, n % sf_.slots());
      wr.sg_list = &sge;
      wr.num_sge = 1;
      wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
      wr.send_flags = IBV_SEND_SIGNALED;
      wr.imm_data = htonl(ib::frameImm(n, parts));
      wr.wr.rdma.remote_addr = remote_.fifoAddr + recv_.offsetOf(n) + off;
      wr.wr.rdma.rkey = remote_.fifoRkey;
      ibv_send_wr* bad = nullptr;
      int rc = ibv_post_send(qps_[(n + j) % qps_.size()], &wr, &bad);
      if (rc != 0) {
        breakWith(formatString("ibv_post_send failed: %s", std::strerror(rc)));
        return;
      }
    }
    sf_.transmitted();
  }
}

void IbConnection::sendCredit() {
  if (creditInFlight_ || !rf_.creditDue() || !localRts_ || !broken_.empty()) return;
  control_->creditSource = rf_.released();
  rf_.creditSent(control_->creditSource);
  ibv_sge sge{};
  sge.addr = reinterpret_cast<uint64_t>(&control_->creditSource);
  sge.length = sizeof(uint64_t);
  sge.lkey = static_cast<ibv_mr*>(controlMr_->registration)->lkey;
  ibv_send_wr wr{};
  wr.wr_id = wrId(kKindCredit, 0);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.imm_data = htonl(ib::kCreditImm);
  wr.wr.rdma.remote_addr = remote_.creditAddr;
  wr.wr.rdma.rkey = remote_.creditRkey;
  ibv_send_wr* bad = nullptr;
  int rc = ibv_post_send(qps_[0], &wr, &bad);
  if (rc != 0) {
    breakWith(formatString("ibv_post_send (credit) failed: %s", std::strerror(rc)));
    return;
  }
  creditInFlight_ = true;
}

bool IbConnection::drainCq() {
  bool moved = false;
  ibv_wc wc[16];
  while (true) {
    int n = ibv_poll_cq(cq_, 16, wc);
    if (n < 0) {
      breakWith("ibv_poll_cq failed");
      return moved;
    }
    if (n == 0) return moved;
    moved = true;
    for (int i = 0; i < n; ++i) {
      const ibv_wc& c = wc[i];
      uint64_t kind = c.wr_id >> 32;
      uint64_t index = c.wr_id & 0xffffffffu;
      if (c.status != IBV_WC_SUCCESS) {
        breakWith(
            formatString("%s failed: %s (vendor error 0x%x); the peer may have exited or "
                         "the fabric failed",
                         kind == kKindRecv ? "receiving" : "RDMA write",
                         ibv_wc_status_str(c.status), c.vendor_err));
        continue;
      }
      if (kind == kKindSend) {
        if (piecesLeft_[index] > 0 && --piecesLeft_[index] == 0) {
          uint64_t frame = sf_.completedCount();
          while (frame % sf_.slots() != index) ++frame;
          if (!sf_.complete(frame)) breakWith("completion of a frame that was not in flight");
        }
      } else if (kind == kKindCredit) {
        creditInFlight_ = false;
        sendCredit();
      } else if (kind == kKindRecv) {
        uint32_t imm = ntohl(c.imm_data);
        if (imm == ib::kCreditImm) {
          if (!sf_.credit(control_->credit)) breakWith("received an impossible credit");
        } else {
          uint64_t frame = ib::immFrame(imm, rf_.head());
          if (!rf_.arrive(frame, ib::immParts(imm)))
            breakWith(formatString("received frame %llu outside the FIFO window",
                                   static_cast<unsigned long long>(frame)));
        }
        postRecv(index);
      }
    }
  }
}

bool IbConnection::poll() {
  bool moved = false;
  if (!localRts_) {
    if (auto info = owner_.sideband().takeInfo(peer_, connection_)) {
      std::string who = owner_.sideband().peerName(peer_);
      connectQps(ib::decodeConnInfo(*info, who));
      moved = true;
    }
  }
  if (!wired_ && owner_.sideband().takeInfo(peer_, connection_ + kReadyKey)) {
    wired_ = true;
    moved = true;
  }
  moved |= drainCq();
  uint64_t before = sf_.transmittedCount();
  transmit();
  sendCredit();
  failIfBroken();
  return moved || sf_.transmittedCount() != before;
}

bool IbConnection::arm() {
  if (ibv_req_notify_cq(cq_, 0) != 0) return false;
  return !drainCq();
}

void IbConnection::failBroken() const {
  owner_.sideband().failBroken(peer_, describe(), broken_);
}

void IbConnection::checkPeer() {
  failIfBroken();
  std::string why;
  if (!rf_.ready() && owner_.sideband().peerGone(peer_, &why))
    throwError(ErrorCode::kRemote, "%s %s; check its output", describe().c_str(), why.c_str());
}

std::string IbConnection::describe() const {
  const PeerRecord& rec = (*owner_.context().peers)[static_cast<size_t>(peer_)];
  return formatString("rank %d (host %s, pid %d) over ibverbs (%s)", peer_, rec.hostName.c_str(),
                      rec.pid, port_.name().c_str());
}

std::string pciPathOf(const std::string& device) {
  std::string link = "/sys/class/infiniband/" + device + "/device";
  char buf[PATH_MAX];
  if (realpath(link.c_str(), buf) == nullptr) return {};
  return buf;
}

// Opens every selected active port; throws kInvalidUsage when there is none.
std::unique_ptr<Transport> makeIbTransport(const TransportContext& ctx) {
  IbOptions options = ibOptionsFromEnv();
  std::string spec = envString("IB_HCA", "");
  ib::HcaFilter filter = ib::HcaFilter::parse(spec);
  int count = 0;
  errno = 0;
  ibv_device** list = ibv_get_device_list(&count);
  if (list == nullptr || count == 0) {
    int err = errno;
    if (list != nullptr) ibv_free_device_list(list);
    throwError(ErrorCode::kInvalidUsage, "no RDMA device on this host (libibverbs: %s)",
               err != 0 ? std::strerror(err) : "no devices");
  }
  std::vector<std::unique_ptr<IbDevice>> devices;
  std::vector<IbPort> ports;
  std::string skipped;
  for (int i = 0; i < count; ++i) {
    std::string name = ibv_get_device_name(list[i]);
    auto dev = std::make_unique<IbDevice>();
    dev->name = name;
    dev->ctx = ibv_open_device(list[i]);
    if (dev->ctx == nullptr) {
      skipped += formatString(" %s (cannot open: %s)", name.c_str(), std::strerror(errno));
      continue;
    }
    ibv_device_attr attr{};
    if (ibv_query_device(dev->ctx, &attr) != 0) continue;
    std::vector<IbPort> devPorts;
    for (int p = 1; p <= attr.phys_port_cnt; ++p) {
      if (!filter.selects(name, p)) continue;
      IbPort port;
      port.port = p;
      if (ibv_query_port(dev->ctx, static_cast<uint8_t>(p), &port.attr) != 0) continue;
      if (port.attr.state != IBV_PORT_ACTIVE) {
        skipped += formatString(" %s:%d (not active)", name.c_str(), p);
        continue;
      }
      port.linkLayer = port.attr.link_layer == IBV_LINK_LAYER_ETHERNET ? LinkLayer::kEthernet
                                                                       : LinkLayer::kInfiniBand;
      std::vector<ib::GidEntry> table;
      for (int g = 0; g < port.attr.gid_tbl_len; ++g) {
        ibv_gid_entry e{};
        if (ibv_query_gid_ex(dev->ctx, static_cast<uint32_t>(p), static_cast<uint32_t>(g), &e, 0) !=
            0)
          continue;
        ib::GidEntry ge;
        ge.index = g;
        ge.type = e.gid_type == IBV_GID_TYPE_ROCE_V2   ? ib::GidType::kRoceV2
                  : e.gid_type == IBV_GID_TYPE_ROCE_V1 ? ib::GidType::kRoceV1
                                                       : ib::GidType::kInfiniBand;
        std::memcpy(ge.gid.data(), e.gid.raw, 16);
        table.push_back(ge);
      }
      auto gid = ib::chooseGidIndex(table, port.linkLayer, options.gidIndex);
      if (!gid) {
        skipped += formatString(" %s:%d (no usable GID%s)", name.c_str(), p,
                                options.gidIndex ? " at PLEXUS_IB_GID_INDEX" : "");
        continue;
      }
      port.gidIndex = *gid;
      if (ibv_query_gid(dev->ctx, static_cast<uint8_t>(p), *gid, &port.gid) != 0) continue;
      port.gbps = ib::portRateGbps(port.attr.active_width, port.attr.active_speed);
      port.pciPath = pciPathOf(name);
      devPorts.push_back(port);
    }
    if (devPorts.empty()) continue;
    dev->pd = ibv_alloc_pd(dev->ctx);
    dev->channel = ibv_create_comp_channel(dev->ctx);
    if (dev->pd == nullptr || dev->channel == nullptr) {
      skipped += formatString(" %s (cannot allocate a protection domain or channel)", name.c_str());
      continue;
    }
    int flags = fcntl(dev->channel->fd, F_GETFL);
    fcntl(dev->channel->fd, F_SETFL, flags | O_NONBLOCK);
    dev->registrar = std::make_unique<VerbsRegistrar>(dev->pd, name);
    dev->mrs = std::make_unique<ib::MrCache>(*dev->registrar, options.mrCache);
    for (IbPort& p : devPorts) {
      p.device = dev.get();
      PLEXUS_INFO(subsys::kNet, "ibverbs transport: %s, %s, %.0f Gbit/s, GID index %d",
                  p.name().c_str(),
                  p.linkLayer == LinkLayer::kInfiniBand ? "InfiniBand" : "Ethernet (RoCE)", p.gbps,
                  p.gidIndex);
      ports.push_back(p);
    }
    devices.push_back(std::move(dev));
  }
  ibv_free_device_list(list);
  if (ports.empty())
    throwError(ErrorCode::kInvalidUsage, "no active RDMA port%s%s%s%s",
               spec.empty() ? "" : " matches PLEXUS_IB_HCA=", spec.c_str(),
               skipped.empty() ? "" : "; skipped:", skipped.c_str());
  return std::make_unique<IbTransport>(ctx, options, std::move(devices), std::move(ports));
}

}  // namespace
}  // namespace plexus::transport

// The entry point shares its name with the table's struct tag (C allows it; C++ warns).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
extern "C" __attribute__((visibility("default"))) const plexus_transport_v1_t* plexus_transport_v1(
    void) {
  static const plexus_transport_v1_t table =
      plexus::transport::exportTransport<plexus::transport::makeIbTransport>("ibverbs", 0);
  return &table;
}
#pragma GCC diagnostic pop
