// Registration of callers' memory with the ofi plugin's domain (Transport::registerMemory): host
// memory with fi_mr_regattr (FI_HMEM_SYSTEM), CUDA device memory with FI_HMEM_CUDA and the device
// ordinal when the provider was opened with FI_HMEM, or through its dma-buf (FI_MR_DMABUF) when
// the libfabric headers have it (1.20 and later). The device paths are compiled here; no provider
// of this repository's CI has FI_HMEM, so they have not run.
#include <rdma/fi_errno.h>
#include <sys/uio.h>

#include "base/error.hpp"
#include "transports/common/memory_region.hpp"
#include "transports/ofi/ofi_fabric.hpp"

namespace plexus::transport {

uint32_t OfiFabric::registrationCaps() const {
  uint32_t caps = PLEXUS_TP_REG_HOST;
  if (hmem_) {
    caps |= PLEXUS_TP_REG_CUDA_HMEM;
#ifdef FI_MR_DMABUF
    caps |= PLEXUS_TP_REG_CUDA_DMABUF;
#endif
  }
  return applyRegistrationKnobs(caps);
}

MemoryRegistration OfiFabric::registerRegion(const MemoryRegion& region) {
  std::string who = "ofi (" + provider_ + ")";
  uint32_t caps = registrationCaps();
  if (region.kind == PLEXUS_TP_MEM_CUDA && (caps & PLEXUS_TP_REG_CUDA) == 0)
    throwError(ErrorCode::kInvalidUsage,
               "%s transport cannot register %s: %s; the provider lacks FI_HMEM (device memory), "
               "so the data is staged through host memory (a provider with FI_HMEM and CUDA "
               "support, e.g. verbs;ofi_rxm, efa or cxi, registers it directly)",
               who.c_str(), describeRegion(region).c_str(),
               hmem_ ? "PLEXUS_NET_GDR=0 or PLEXUS_DMABUF_ENABLE=0" : hmemMissing_.c_str());
  checkRegion(who.c_str(), region, caps);
  iovec iov{region.ptr, region.size};
  fi_mr_attr attr{};
  attr.mr_iov = &iov;
  attr.iov_count = 1;
  attr.access = FI_SEND | FI_RECV | FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE;
  attr.requested_key = (info_->domain_attr->mr_mode & FI_MR_PROV_KEY) != 0 ? 0 : nextKey_++;
  attr.iface = FI_HMEM_SYSTEM;
  uint64_t flags = 0;
#ifdef FI_MR_DMABUF
  fi_mr_dmabuf dmabuf{};  // lives until fi_mr_regattr has read it
#endif
  if (region.kind == PLEXUS_TP_MEM_CUDA) {
    attr.iface = FI_HMEM_CUDA;
    attr.device.cuda = region.device;
#ifdef FI_MR_DMABUF
    if (region.dmabufFd >= 0 && (caps & PLEXUS_TP_REG_CUDA_DMABUF) != 0) {
      dmabuf.fd = region.dmabufFd;
      dmabuf.offset = region.dmabufOffset;
      dmabuf.len = region.size;
      dmabuf.base_addr = static_cast<char*>(region.ptr) - region.dmabufOffset;
      attr.dmabuf = &dmabuf;
      flags |= FI_MR_DMABUF;
    }
#endif
  }
  fid_mr* mr = nullptr;
  int rc = fi_mr_regattr(domain_, &attr, flags, &mr);
  if (rc != 0)
    throwError(ErrorCode::kInvalidUsage, "%s transport: fi_mr_regattr of %s failed: %s (%d)",
               who.c_str(), describeRegion(region).c_str(), fi_strerror(-rc), rc);
  userMrs_.insert(mr);
  return MemoryRegistration{mr, fi_mr_key(mr)};
}

void OfiFabric::deregisterRegion(void* handle) {
  auto it = userMrs_.find(static_cast<fid_mr*>(handle));
  if (it == userMrs_.end())
    throwError(ErrorCode::kInvalidArgument,
               "ofi (%s) transport: deregistering %p, which is no registration of this transport",
               provider_.c_str(), handle);
  fi_close(&(*it)->fid);
  userMrs_.erase(it);
}

}  // namespace plexus::transport
