// Registration of callers' memory with the ibverbs devices (see ib_registration.hpp).
#include "transports/ibverbs/ib_registration.hpp"

#include "base/error.hpp"
#include "transports/common/memory_region.hpp"

namespace plexus::transport::ib {

RegionRegistry::RegionRegistry(std::vector<RegistrationDevice> devices, DmabufSource source,
                               RemoteKeyOf keyOf)
    : devices_(std::move(devices)), source_(source), keyOf_(keyOf) {}

RegionRegistry::~RegionRegistry() {
  for (auto& [raw, record] : records_) release(*record);
}

uint32_t RegionRegistry::caps() const {
  if (devices_.empty()) return 0;
  uint32_t caps = PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_DMABUF;
  for (const RegistrationDevice& d : devices_)
    if (d.dmabuf == nullptr) caps &= ~PLEXUS_TP_REG_CUDA_DMABUF;
  return applyRegistrationKnobs(caps);
}

namespace {

// Why `devices` cannot register device memory here, for messages.
std::string whyNoDmabuf(const std::vector<RegistrationDevice>& devices) {
  if (devices.empty()) return "no RDMA device is open";
  std::string lacking;
  for (const RegistrationDevice& d : devices)
    if (d.dmabuf == nullptr) lacking += (lacking.empty() ? "" : ", ") + d.name;
  if (!lacking.empty())
    return lacking +
           " cannot register dma-buf memory (ibv_reg_dmabuf_mr needs Linux >= 5.12 and "
           "a provider with dma-buf support, e.g. mlx5)";
  if ((applyRegistrationKnobs(PLEXUS_TP_REG_CUDA) & PLEXUS_TP_REG_CUDA) == 0)
    return "GPUDirect registration is off (PLEXUS_NET_GDR=0)";
  return "dma-buf registration is off (PLEXUS_DMABUF_ENABLE=0)";
}

}  // namespace

MemoryRegistration RegionRegistry::registerRegion(const MemoryRegion& region) {
  uint32_t can = caps();
  if (region.kind == PLEXUS_TP_MEM_CUDA && (can & PLEXUS_TP_REG_CUDA_DMABUF) == 0)
    throwError(ErrorCode::kInvalidUsage,
               "ibverbs transport cannot register %s: %s; the data is staged through host memory",
               describeRegion(region).c_str(), whyNoDmabuf(devices_).c_str());
  checkRegion("ibverbs", region, can);
  // Device memory: the caller's dma-buf, or one from CUDA (closed when this call returns).
  DmabufRange own;
  int fd = region.dmabufFd;
  uint64_t offset = region.dmabufOffset;
  if (region.kind == PLEXUS_TP_MEM_CUDA && fd < 0) {
    std::string why = "no source of dma-bufs";
    if (source_ == nullptr || !source_(region.ptr, region.size, &own, &why))
      throwError(ErrorCode::kInvalidUsage,
                 "ibverbs transport cannot register %s: no dma-buf for it: %s; the data is staged "
                 "through host memory",
                 describeRegion(region).c_str(), why.c_str());
    fd = own.fd.get();
    offset = own.offset;
  }
  auto record = std::make_unique<Record>();
  try {
    for (const RegistrationDevice& d : devices_) {
      Part part;
      part.device = &d;
      if (region.kind == PLEXUS_TP_MEM_HOST)
        part.cached = d.host->acquire(region.ptr, region.size);
      else
        part.dmabufReg =
            d.dmabuf->regDmabuf(offset, region.size, reinterpret_cast<uintptr_t>(region.ptr), fd);
      record->parts.push_back(part);
    }
  } catch (...) {
    release(*record);
    throw;
  }
  const Part& first = record->parts.front();
  void* reg = first.cached != nullptr ? first.cached->registration : first.dmabufReg;
  uint64_t key = keyOf_ != nullptr ? keyOf_(reg) : 0;
  Record* raw = record.get();
  records_.emplace(raw, std::move(record));
  return MemoryRegistration{raw, key};
}

void RegionRegistry::deregister(void* handle) {
  auto it = records_.find(static_cast<Record*>(handle));
  if (it == records_.end())
    throwError(ErrorCode::kInvalidArgument,
               "ibverbs transport: deregistering %p, which is no registration of this transport",
               handle);
  release(*it->second);
  records_.erase(it);
}

void RegionRegistry::release(Record& r) {
  for (Part& p : r.parts) {
    if (p.cached != nullptr) p.device->host->release(p.cached);
    if (p.dmabufReg != nullptr) p.device->dmabuf->dereg(p.dmabufReg);
  }
  r.parts.clear();
}

}  // namespace plexus::transport::ib
