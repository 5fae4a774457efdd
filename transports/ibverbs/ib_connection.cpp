// The ibverbs connection: queue pairs brought up through the side band, frames written with
// immediate data straight into the peer's slots, credits written back into the sender's word.
#include "transports/ibverbs/ib_connection.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "base/error.hpp"
#include "base/log.hpp"

namespace plexus::transport::ib {

IbConnection::IbConnection(IbOwner& owner, int connection, int peer, IbPort& port)
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

}  // namespace plexus::transport::ib
