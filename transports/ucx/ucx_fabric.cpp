// UCX glue of the ucx plugin (see ucx_fabric.hpp).
#include "transports/ucx/ucx_fabric.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/deadline.hpp"
#include "base/error.hpp"
#include "base/log.hpp"

namespace plexus::transport {
namespace {

std::string ucsError(ucs_status_t s) {
  return formatString("%s (%d)", ucs_status_string(s), static_cast<int>(s));
}

// UCX_TLS names only shared-memory transports, which cannot report peer failures in UCX 1.13
// (asking for it fails, noisily): the side band detects them instead.
bool sharedMemoryOnly(const std::string& tls) {
  if (tls.empty() || tls[0] == '^' || tls == "auto") return false;
  size_t pos = 0;
  while (pos <= tls.size()) {
    size_t comma = tls.find(',', pos);
    std::string t = tls.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (t != "posix" && t != "sysv" && t != "cma" && t != "knem" && t != "xpmem" && t != "self" &&
        t != "sm" && t != "shm" && t != "mm")
      return false;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return true;
}

}  // namespace

UcxFabric::UcxFabric(const TransportContext& ctx) : ctx_(ctx) {
  const char* tls = std::getenv("UCX_TLS");
  tls_ = tls != nullptr && *tls ? tls : "auto";
  peerErrors_ = !sharedMemoryOnly(tls_);
  ucp_config_t* config = nullptr;
  ucs_status_t s = ucp_config_read(nullptr, nullptr, &config);
  if (s != UCS_OK)
    throwError(ErrorCode::kInvalidUsage, "UCX cannot read its configuration: %s",
               ucsError(s).c_str());
  // With wakeup first (poll on the worker's event fd); without it if no transport supports it.
  for (bool wakeup : {true, false}) {
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
    params.features = UCP_FEATURE_TAG | (wakeup ? UCP_FEATURE_WAKEUP : 0);
    params.mt_workers_shared = 0;
    s = ucp_init(&params, config, &context_);
    if (s != UCS_OK) {
      context_ = nullptr;
      continue;
    }
    ucp_worker_params_t wp{};
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SERIALIZED;
    s = ucp_worker_create(context_, &wp, &worker_);
    if (s != UCS_OK) {
      worker_ = nullptr;
      ucp_cleanup(context_);
      context_ = nullptr;
      continue;
    }
    if (wakeup && ucp_worker_get_efd(worker_, &efd_) != UCS_OK) efd_ = -1;
    break;
  }
  ucp_config_release(config);
  if (worker_ == nullptr)
    throwError(ErrorCode::kInvalidUsage,
               "UCX found no usable transport (UCX_TLS=%s): %s; 'ucx_info -d' lists what this "
               "host has",
               tls_.c_str(), ucsError(s).c_str());
  ucp_address_t* addr = nullptr;
  size_t len = 0;
  s = ucp_worker_get_address(worker_, &addr, &len);
  if (s != UCS_OK) {
    shutdown();
    throwError(ErrorCode::kSystem, "ucx transport: ucp_worker_get_address: %s",
               ucsError(s).c_str());
  }
  address_.assign(reinterpret_cast<const char*>(addr), len);
  ucp_worker_release_address(worker_, addr);
  PLEXUS_INFO(subsys::kNet, "ucx transport: UCX %s, UCX_TLS=%s, %s worker, %zu-byte address",
              ucp_get_version_string(), tls_.c_str(), efd_ >= 0 ? "fd-waitable" : "polled",
              address_.size());
}

UcxFabric::~UcxFabric() {
  shutdown();
}

void UcxFabric::shutdown() {
  closing_ = true;
  if (worker_ != nullptr) {
    // Receives still posted are cancelled; their callbacks run during the progress below.
    // (A cancel may complete at once and leave inFlight_: walk a copy.)
    std::vector<FabricOp*> posted(inFlight_.begin(), inFlight_.end());
    for (FabricOp* op : posted)
      if (inFlight_.count(op) != 0 && op->request != nullptr && !op->send)
        ucp_request_cancel(worker_, op->request);
    Deadline deadline = Deadline::after(std::chrono::milliseconds(500));
    while (!inFlight_.empty() && !deadline.expired()) ucp_worker_progress(worker_);
    std::vector<void*> closing;
    // Forced closes: by now every frame Plexus sent has completed (finalize, then the tagged
    // transport's flush wait) or the communicator aborted, so a graceful close has nothing left to
    // flush, and it waits on the peer: a stopped or hung peer leaves it incomplete, and UCX then
    // asserts on the endpoint's requests when the worker is destroyed (sends in flight to a peer
    // that stopped reading) and leaves its /dev/shm/ucx_shm_posix_* segment behind.
    for (auto& [rank, p] : peers_) {
      if (p->ep == nullptr) continue;
      ucp_request_param_t param{};
      param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      param.flags = UCP_EP_CLOSE_FLAG_FORCE;
      ucs_status_ptr_t r = ucp_ep_close_nbx(p->ep, &param);
      if (r != nullptr && !UCS_PTR_IS_ERR(r)) closing.push_back(r);
      p->ep = nullptr;
    }
    deadline = Deadline::after(std::chrono::milliseconds(500));
    for (void* r : closing) {
      while (ucp_request_check_status(r) == UCS_INPROGRESS && !deadline.expired())
        ucp_worker_progress(worker_);
      ucp_request_free(r);
    }
    while (!inFlight_.empty() && !deadline.expired()) ucp_worker_progress(worker_);
    ucp_worker_destroy(worker_);
    worker_ = nullptr;
  }
  if (context_ != nullptr) ucp_cleanup(context_);
  context_ = nullptr;
}

void UcxFabric::onEpError(void* arg, ucp_ep_h, ucs_status_t status) {
  auto* p = static_cast<Peer*>(arg);
  if (p->failure.empty())
    p->failure = formatString("UCX reports the endpoint failed: %s (the peer may have exited)",
                              ucs_status_string(status));
}

void UcxFabric::addPeer(int rank, const std::string& address) {
  if (peers_.count(rank) != 0) return;
  auto p = std::make_unique<Peer>();
  p->owner = this;
  p->rank = rank;
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                      UCP_EP_PARAM_FIELD_ERR_HANDLER;
  params.address = reinterpret_cast<const ucp_address_t*>(address.data());
  params.err_mode = peerErrors_ ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE;
  params.err_handler.cb = &UcxFabric::onEpError;
  params.err_handler.arg = p.get();
  ucs_status_t s = ucp_ep_create(worker_, &params, &p->ep);
  if (s != UCS_OK && peerErrors_) {
    // Some transports cannot detect peer failures; the side band still does.
    peerErrors_ = false;
    params.err_mode = UCP_ERR_HANDLING_MODE_NONE;
    s = ucp_ep_create(worker_, &params, &p->ep);
  }
  if (s != UCS_OK) {
    const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(rank)];
    throwError(ErrorCode::kRemote,
               "ucx transport: cannot create an endpoint to rank %d (host %s): %s; check that "
               "UCX_TLS and UCX_NET_DEVICES let the two ranks reach each other",
               rank, rec.hostName.c_str(), ucsError(s).c_str());
  }
  peers_[rank] = std::move(p);
}

void UcxFabric::finished(FabricOp& op, ucs_status_t status, size_t length) {
  inFlight_.erase(&op);
  if (closing_) return;
  done_.push_back(
      Done{&op, status == UCS_OK, length, status == UCS_OK ? std::string() : ucsError(status)});
}

void UcxFabric::onSend(void* request, ucs_status_t status, void* user) {
  auto* op = static_cast<FabricOp*>(user);
  op->request = nullptr;
  ucp_request_free(request);
  static_cast<UcxFabric*>(*reinterpret_cast<void**>(op->fabricContext))
      ->finished(*op, status, op->len);
}

void UcxFabric::onRecv(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                       void* user) {
  auto* op = static_cast<FabricOp*>(user);
  op->request = nullptr;
  ucp_request_free(request);
  static_cast<UcxFabric*>(*reinterpret_cast<void**>(op->fabricContext))
      ->finished(*op, status, info != nullptr ? info->length : 0);
}

bool UcxFabric::post(FabricOp& op) {
  // The fabric context slot of the op remembers this fabric for the callbacks.
  *reinterpret_cast<void**>(op.fabricContext) = this;
  op.request = nullptr;
  ucp_tag_recv_info_t info{};
  ucp_request_param_t param{};
  // Completions always through the callbacks (which carry the received length), never at once.
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                       UCP_OP_ATTR_FIELD_DATATYPE | UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  param.datatype = ucp_dt_make_contig(1);
  param.user_data = &op;
  ucs_status_ptr_t r;
  inFlight_.insert(&op);
  if (op.send) {
    auto it = peers_.find(op.peer);
    if (it == peers_.end())
      throwError(ErrorCode::kInternal, "ucx transport: send to unknown rank %d", op.peer);
    param.cb.send = &UcxFabric::onSend;
    r = ucp_tag_send_nbx(it->second->ep, op.buf, op.len, op.tag, &param);
  } else {
    param.op_attr_mask |= UCP_OP_ATTR_FIELD_RECV_INFO;
    param.recv_info.tag_info = &info;
    param.cb.recv = &UcxFabric::onRecv;
    r = ucp_tag_recv_nbx(worker_, op.buf, op.len, op.tag, ~uint64_t{0}, &param);
  }
  if (r == nullptr) {
    // Completed at once (should not happen with NO_IMM_CMPL); the length is then what recv_info
    // says, or unknown (the frame header still tells).
    finished(op, UCS_OK, op.send ? op.len : info.length != 0 ? info.length : kUnknownLength);
    return true;
  }
  if (UCS_PTR_IS_ERR(r)) {
    inFlight_.erase(&op);
    ucs_status_t s = UCS_PTR_STATUS(r);
    if (s == UCS_ERR_NO_RESOURCE) return false;
    std::string who = "";
    if (op.send) {
      const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(op.peer)];
      who = formatString(" to rank %d (host %s)", op.peer, rec.hostName.c_str());
    }
    throwError(ErrorCode::kRemote, "ucx transport: %s%s failed: %s",
               op.send ? "ucp_tag_send_nbx" : "ucp_tag_recv_nbx", who.c_str(), ucsError(s).c_str());
  }
  if (inFlight_.count(&op) != 0) op.request = r;  // else its callback already ran
  return true;
}

bool UcxFabric::progress() {
  bool moved = false;
  while (ucp_worker_progress(worker_) != 0) moved = true;
  while (!done_.empty()) {
    Done d = std::move(done_.front());
    done_.pop_front();
    moved = true;
    if (d.op->handler != nullptr) d.op->handler->onComplete(*d.op, d.ok, d.length, d.error);
  }
  return moved;
}

bool UcxFabric::waitFds(std::vector<pollfd>& fds, bool* busy) {
  if (efd_ < 0) return false;
  while (ucp_worker_progress(worker_) != 0) {
  }
  if (!done_.empty()) *busy = true;
  ucs_status_t s = ucp_worker_arm(worker_);
  if (s == UCS_ERR_BUSY)
    *busy = true;
  else if (s != UCS_OK)
    return false;
  fds.push_back(pollfd{efd_, POLLIN, 0});
  return true;
}

bool UcxFabric::peerFailed(int rank, std::string* why) const {
  auto it = peers_.find(rank);
  if (it == peers_.end() || it->second->failure.empty()) return false;
  if (why != nullptr) *why = it->second->failure;
  return true;
}

plexus_tp_device_t UcxFabric::device() const {
  plexus_tp_device_t d{};
  std::snprintf(d.name, sizeof(d.name), "ucx:%s", tls_.c_str());
  const char* dev = std::getenv("UCX_NET_DEVICES");
  std::snprintf(d.link_layer, sizeof(d.link_layer), "%s", dev != nullptr ? dev : "UCX");
  d.mem_kinds = PLEXUS_TP_MEM_HOST;
  d.bandwidth_gbps = 10.0;
  d.latency_us = 10.0;
  return d;
}

}  // namespace plexus::transport
