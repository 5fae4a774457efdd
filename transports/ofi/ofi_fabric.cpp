// libfabric glue of the ofi plugin (see ofi_fabric.hpp).
#include "transports/ofi/ofi_fabric.hpp"

#include <rdma/fi_cm.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/common/memory_region.hpp"

namespace plexus::transport {
namespace {

std::string fiError(int rc) {
  return formatString("%s (%d)", fi_strerror(rc < 0 ? -rc : rc), rc);
}

// The providers that offer reliable tagged messages (and FI_HMEM when `hmem`); rc of fi_getinfo.
int queryProviders(bool hmem, const std::string& wanted, fi_info** out) {
  fi_info* hints = fi_allocinfo();
  if (hints == nullptr) throwError(ErrorCode::kSystem, "ofi transport: fi_allocinfo failed");
  hints->caps = FI_TAGGED | (hmem ? FI_HMEM : 0);
  hints->ep_attr->type = FI_EP_RDM;
  hints->mode = FI_CONTEXT | FI_CONTEXT2;
  hints->domain_attr->mr_mode =
      FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | (hmem ? FI_MR_HMEM : 0);
  hints->domain_attr->threading = FI_THREAD_DOMAIN;
  if (!wanted.empty()) hints->fabric_attr->prov_name = strdup(wanted.c_str());
  int rc = fi_getinfo(FI_VERSION(1, 10), nullptr, nullptr, 0, hints, out);
  fi_freeinfo(hints);
  return rc;
}

}  // namespace

// Sets info_ to the provider to use: PLEXUS_FI_PROVIDER, else libfabric's FI_PROVIDER filter, else
// the first with reliable tagged messages; with FI_HMEM when device memory is wanted and that
// provider has it (hmemMissing_ says why not otherwise).
void OfiFabric::chooseProvider(const TransportContext& ctx) {
  std::string wanted = envString("FI_PROVIDER", "");
  const char* libFilter = std::getenv("FI_PROVIDER");
  std::string which = !wanted.empty() ? "provider '" + wanted + "' (PLEXUS_FI_PROVIDER)"
                      : libFilter != nullptr
                          ? std::string("provider '") + libFilter + "' (FI_PROVIDER)"
                          : std::string("any provider");
  int rc = queryProviders(false, wanted, &info_);
  if (rc != 0 || info_ == nullptr)
    throwError(ErrorCode::kInvalidUsage,
               "libfabric %s offers no reliable tagged endpoint (FI_EP_RDM, FI_TAGGED): %s; "
               "'fi_info -t FI_EP_RDM' lists what this host has",
               which.c_str(), fiError(rc).c_str());
  // Device memory wanted (and GPUDirect not switched off): the same provider with FI_HMEM, if it
  // has it (asking for FI_HMEM must not change which provider carries the data).
  if ((ctx.memKinds & PLEXUS_TP_MEM_CUDA) != 0 &&
      (applyRegistrationKnobs(PLEXUS_TP_REG_CUDA) & PLEXUS_TP_REG_CUDA) != 0) {
    std::string chosen = info_->fabric_attr->prov_name ? info_->fabric_attr->prov_name : "";
    fi_info* withHmem = nullptr;
    rc = queryProviders(true, chosen, &withHmem);
    if (rc == 0 && withHmem != nullptr) {
      fi_freeinfo(info_);
      info_ = withHmem;
    } else {
      hmemMissing_ = formatString("libfabric provider '%s' offers no FI_HMEM here: %s",
                                  chosen.c_str(), fiError(rc).c_str());
    }
  } else {
    hmemMissing_ = "FI_HMEM was not requested (no device memory asked for, or PLEXUS_NET_GDR=0)";
  }
}

OfiFabric::OfiFabric(const TransportContext& ctx) : ctx_(ctx) {
  chooseProvider(ctx);
  provider_ = info_->fabric_attr->prov_name != nullptr ? info_->fabric_attr->prov_name : "?";
  needMr_ = (info_->domain_attr->mr_mode & FI_MR_LOCAL) != 0;
  hmem_ = (info_->caps & FI_HMEM) != 0;
  if (!hmem_ && hmemMissing_.empty()) hmemMissing_ = "the provider does not report FI_HMEM";
  try {
    int rc = fi_fabric(info_->fabric_attr, &fabric_, nullptr);
    if (rc != 0) throwError(ErrorCode::kSystem, "fi_fabric: %s", fiError(rc).c_str());
    rc = fi_domain(fabric_, info_, &domain_, nullptr);
    if (rc != 0) throwError(ErrorCode::kSystem, "fi_domain: %s", fiError(rc).c_str());
    fi_cq_attr cqAttr{};
    cqAttr.format = FI_CQ_FORMAT_TAGGED;
    cqAttr.wait_obj = FI_WAIT_FD;
    rc = fi_cq_open(domain_, &cqAttr, &cq_, nullptr);
    if (rc != 0) {
      cqAttr.wait_obj = FI_WAIT_NONE;
      rc = fi_cq_open(domain_, &cqAttr, &cq_, nullptr);
      if (rc != 0) throwError(ErrorCode::kSystem, "fi_cq_open: %s", fiError(rc).c_str());
    } else if (fi_control(&cq_->fid, FI_GETWAIT, &waitFd_) != 0) {
      waitFd_ = -1;
    }
    fi_av_attr avAttr{};
    avAttr.type =
        info_->domain_attr->av_type != FI_AV_UNSPEC ? info_->domain_attr->av_type : FI_AV_TABLE;
    rc = fi_av_open(domain_, &avAttr, &av_, nullptr);
    if (rc != 0) throwError(ErrorCode::kSystem, "fi_av_open: %s", fiError(rc).c_str());
    rc = fi_endpoint(domain_, info_, &ep_, nullptr);
    if (rc != 0) throwError(ErrorCode::kSystem, "fi_endpoint: %s", fiError(rc).c_str());
    rc = fi_ep_bind(ep_, &av_->fid, 0);
    if (rc != 0) throwError(ErrorCode::kSystem, "fi_ep_bind(av): %s", fiError(rc).c_str());
    rc = fi_ep_bind(ep_, &cq_->fid, FI_TRANSMIT | FI_RECV);
    if (rc != 0) throwError(ErrorCode::kSystem, "fi_ep_bind(cq): %s", fiError(rc).c_str());
    rc = fi_enable(ep_);
    if (rc != 0) throwError(ErrorCode::kSystem, "fi_enable: %s", fiError(rc).c_str());
    size_t len = 0;
    rc = fi_getname(&ep_->fid, nullptr, &len);
    address_.assign(len, '\0');
    rc = fi_getname(&ep_->fid, address_.data(), &len);
    if (rc != 0) throwError(ErrorCode::kSystem, "fi_getname: %s", fiError(rc).c_str());
    address_.resize(len);
    if (sameHostOnly()) openShmGuard();
  } catch (const Error& e) {
    close();
    throwError(ErrorCode::kSystem, "ofi transport (provider %s, domain %s): %s", provider_.c_str(),
               info_ != nullptr && info_->domain_attr->name ? info_->domain_attr->name : "?",
               e.what());
  }
  PLEXUS_INFO(subsys::kNet,
              "ofi transport: provider %s, domain %s, %s completion queue%s, %zu-byte address, "
              "device memory: %s",
              provider_.c_str(), info_->domain_attr->name ? info_->domain_attr->name : "?",
              waitFd_ >= 0 ? "fd-waitable" : "polled", needMr_ ? ", local MR" : "", address_.size(),
              hmem_ ? "FI_HMEM" : hmemMissing_.c_str());
}

OfiFabric::~OfiFabric() {
  close();
}

void OfiFabric::openShmGuard() {
  shmGuard_ = std::make_unique<ShmLockGuard>(address_, ctx_.nranks);
  if (!shmGuard_->enabled())
    PLEXUS_INFO(subsys::kNet,
                "ofi transport (shm): not watching the provider's region locks (%s): a peer "
                "killed or stopped while holding one may leave this rank spinning inside libfabric",
                shmGuard_->off().c_str());
}

void OfiFabric::close() {
  shmGuard_.reset();
  if (ep_ != nullptr) fi_close(&ep_->fid);
  ep_ = nullptr;
  for (fid_mr* mr : mrs_) fi_close(&mr->fid);
  mrs_.clear();
  for (fid_mr* mr : userMrs_) fi_close(&mr->fid);
  userMrs_.clear();
  if (av_ != nullptr) fi_close(&av_->fid);
  av_ = nullptr;
  if (cq_ != nullptr) fi_close(&cq_->fid);
  cq_ = nullptr;
  if (domain_ != nullptr) fi_close(&domain_->fid);
  domain_ = nullptr;
  if (fabric_ != nullptr) fi_close(&fabric_->fid);
  fabric_ = nullptr;
  if (info_ != nullptr) fi_freeinfo(info_);
  info_ = nullptr;
  peerPidFds_.clear();
}

bool OfiFabric::sameHostOnly() const {
  return provider_ == "shm" || provider_.rfind("shm;", 0) == 0;
}

void OfiFabric::addPeer(int rank, const std::string& address) {
  if (peers_.count(rank) != 0) return;
  fi_addr_t addr = FI_ADDR_UNSPEC;
  int n = fi_av_insert(av_, address.data(), 1, &addr, 0, nullptr);
  if (n != 1)
    throwError(ErrorCode::kRemote,
               "ofi transport (%s): cannot insert the address of rank %d into the address "
               "vector: %s; check that every rank uses the same provider",
               provider_.c_str(), rank, fiError(n).c_str());
  peers_[rank] = addr;
#ifdef SYS_pidfd_open
  const int pid = (*ctx_.peers)[static_cast<size_t>(rank)].pid;
  if (sameHostOnly() && pid > 0) {
    Fd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (fd) peerPidFds_[rank] = std::move(fd);
  }
#endif
  std::string why;
  if (shmGuard_ != nullptr && shmGuard_->enabled() &&
      !shmGuard_->addPeer(rank, address, (*ctx_.peers)[static_cast<size_t>(rank)].pid, &why))
    PLEXUS_INFO(subsys::kNet,
                "ofi transport (shm): not watching the region lock of rank %d (%s): sends to it "
                "may spin inside libfabric should a process die holding it",
                rank, why.c_str());
}

bool OfiFabric::peerExited(int rank) const {
  auto it = peerPidFds_.find(rank);
  if (it == peerPidFds_.end()) return false;
  pollfd p{it->second.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

bool OfiFabric::peerFailed(int rank, std::string* why) const {
  if (peerExited(rank)) {
    if (why != nullptr) *why = "has exited (its process is gone: killed or crashed)";
    return true;
  }
  // A live peer this rank cannot hear from (its own region is locked) or send to (the peer's is)
  // because another rank died holding the lock: the failure is that rank's.
  std::string lost;
  if (heldByLostPeer(ownLock(), &lost)) {
    if (why != nullptr) *why = "cannot be heard from: this rank's shared-memory region " + lost;
    return true;
  }
  if (heldByLostPeer(peerLock(rank), &lost)) {
    if (why != nullptr) *why = "cannot be sent to: its shared-memory region " + lost;
    return true;
  }
  return false;
}

bool OfiFabric::heldByLostPeer(const pthread_spinlock_t* lock, std::string* why) const {
  if (lock == nullptr) return false;
  if (shmGuard_->isFree(lock)) {
    heldSince_.erase(lock);
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto since = heldSince_.emplace(lock, now).first->second;
  if (now - since < std::chrono::milliseconds(500)) return false;
  for (const auto& [rank, fd] : peerPidFds_) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) continue;
    const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(rank)];
    *why = formatString(
        "(libfabric shm) has stayed locked for %lld ms while rank %d (host %s, pid %d) has "
        "exited: it died holding the lock",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count()),
        rank, rec.hostName.c_str(), rec.pid);
    return true;
  }
  return false;
}

void* OfiFabric::registerMemory(void* buf, size_t len) {
  if (!needMr_) return nullptr;
  fid_mr* mr = nullptr;
  int rc = fi_mr_reg(domain_, buf, len, FI_SEND | FI_RECV, 0, 0, 0, &mr, nullptr);
  if (rc != 0)
    throwError(ErrorCode::kSystem, "ofi transport (%s): fi_mr_reg of %zu bytes failed: %s",
               provider_.c_str(), len, fiError(rc).c_str());
  mrs_.push_back(mr);
  return fi_mr_desc(mr);
}

bool OfiFabric::post(FabricOp& op) {
  ssize_t rc;
  if (op.send) {
    auto it = peers_.find(op.peer);
    if (it == peers_.end())
      throwError(ErrorCode::kInternal, "ofi transport: send to unknown rank %d", op.peer);
    std::string why;
    if (peerFailed(op.peer, &why)) {
      const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(op.peer)];
      throwError(ErrorCode::kRemote, "rank %d (host %s, pid %d) over ofi (%s) %s; check its output",
                 op.peer, rec.hostName.c_str(), rec.pid, provider_.c_str(), why.c_str());
    }
    // The provider spins on the receiver's region lock: retried (as busy) while it is held.
    rc = whenFree(peerLock(op.peer), [&] {
      return fi_tsend(ep_, op.buf, op.len, op.desc, it->second, op.tag, op.fabricContext);
    });
  } else {
    rc = whenFree(ownLock(), [&] {
      return fi_trecv(ep_, op.buf, op.len, op.desc, FI_ADDR_UNSPEC, op.tag, 0, op.fabricContext);
    });
  }
  if (rc == -FI_EAGAIN) return false;
  if (rc != 0) {
    const PeerRecord* rec = op.peer >= 0 ? &(*ctx_.peers)[static_cast<size_t>(op.peer)] : nullptr;
    throwError(ErrorCode::kRemote, "ofi transport (%s): %s %s failed: %s", provider_.c_str(),
               op.send ? "fi_tsend to" : "fi_trecv",
               rec != nullptr
                   ? formatString("rank %d (host %s)", op.peer, rec->hostName.c_str()).c_str()
                   : "",
               fiError(static_cast<int>(rc)).c_str());
  }
  return true;
}

bool OfiFabric::progress() {
  bool moved = false;
  while (true) {
    fi_cq_tagged_entry entries[16];
    // (Progress takes this rank's region lock: nothing moves while a lost peer holds it.)
    ssize_t n = whenFree(ownLock(), [&] { return fi_cq_read(cq_, entries, 16); });
    if (n > 0) {
      moved = true;
      for (ssize_t i = 0; i < n; ++i) {
        auto* op = static_cast<FabricOp*>(entries[i].op_context);
        if (op != nullptr && op->handler != nullptr)
          op->handler->onComplete(*op, true, entries[i].len, "");
      }
      continue;
    }
    if (n == -FI_EAGAIN) break;
    if (n == -FI_EAVAIL) {
      fi_cq_err_entry err{};
      if (fi_cq_readerr(cq_, &err, 0) <= 0) break;
      moved = true;
      if (err.err == FI_ECANCELED) continue;
      char buf[256] = {};
      const char* detail = fi_cq_strerror(cq_, err.prov_errno, err.err_data, buf, sizeof(buf));
      std::string why = formatString("%s (%s)", fi_strerror(err.err), detail ? detail : "");
      auto* op = static_cast<FabricOp*>(err.op_context);
      if (op != nullptr && op->handler != nullptr) op->handler->onComplete(*op, false, 0, why);
      continue;
    }
    throwError(ErrorCode::kSystem, "ofi transport (%s): fi_cq_read failed: %s", provider_.c_str(),
               fiError(static_cast<int>(n)).c_str());
  }
  return moved;
}

bool OfiFabric::waitFds(std::vector<pollfd>& fds, bool* busy) {
  // progress() skipped the provider while this rank's region lock was held: a peer writes its
  // command under it for microseconds, so look again at once rather than nap (as the provider's
  // own spin did), unless the lock stays held (a lost peer's: nap, the deadline runs).
  pthread_spinlock_t* own = ownLock();
  if (own != nullptr && !shmGuard_->isFree(own)) {
    if (++ownHeldPolls_ < kOwnHeldSpins) *busy = true;
    return false;
  }
  ownHeldPolls_ = 0;
  if (waitFd_ < 0) return false;
  fid* f = &cq_->fid;
  // (fi_trywait progresses: the own region lock again.)
  const int rc = static_cast<int>(
      whenFree(own, [&] { return static_cast<ssize_t>(fi_trywait(fabric_, &f, 1)); }));
  if (rc == -FI_EAGAIN)
    *busy = true;
  else if (rc != 0)
    return false;
  fds.push_back(pollfd{waitFd_, POLLIN, 0});
  return true;
}

plexus_tp_device_t OfiFabric::device() const {
  plexus_tp_device_t d{};
  std::snprintf(d.name, sizeof(d.name), "%s:%s", provider_.c_str(),
                info_->domain_attr->name ? info_->domain_attr->name : "?");
  std::snprintf(d.link_layer, sizeof(d.link_layer), "%s",
                sameHostOnly() ? "shared memory" : "libfabric");
  d.mem_kinds = PLEXUS_TP_MEM_HOST |
                ((registrationCaps() & PLEXUS_TP_REG_CUDA) != 0 ? PLEXUS_TP_MEM_CUDA : 0);
  d.latency_us = sameHostOnly() ? 1.0 : 10.0;
  d.bandwidth_gbps = sameHostOnly() ? 100.0 : 10.0;
  if (info_->nic != nullptr && info_->nic->link_attr != nullptr && info_->nic->link_attr->speed > 0)
    d.bandwidth_gbps = static_cast<double>(info_->nic->link_attr->speed) / 1e9;
  if (info_->nic != nullptr && info_->nic->bus_attr != nullptr &&
      info_->nic->bus_attr->bus_type == FI_BUS_PCI) {
    const fi_pci_attr& p = info_->nic->bus_attr->attr.pci;
    std::snprintf(d.pci_path, sizeof(d.pci_path), "%04x:%02x:%02x.%x", p.domain_id, p.bus_id,
                  p.device_id, p.function_id);
  }
  return d;
}

}  // namespace plexus::transport
