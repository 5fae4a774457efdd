// Registration of callers' memory with the ibverbs plugin's devices (Transport::registerMemory):
// host memory through each device's MR cache (ibv_reg_mr), CUDA device memory through its dma-buf
// (ibv_reg_dmabuf_mr, GPUDirect RDMA) on devices whose kernel and provider support dma-buf. The
// dma-buf fd is the caller's when given, else one from cudaDmabufRange (closed after
// registering; the registration keeps its own reference). One registration covers every opened
// device; its remote key is the first device's.
//
// No verbs calls here: a DmabufRegistrar does them (the plugin's; a fake in the unit tests), so
// this part is tested without an RDMA device. The device path has not run on RDMA hardware.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "transports/common/cuda_dmabuf.hpp"
#include "transports/common/transport.hpp"
#include "transports/ibverbs/mr_cache.hpp"

namespace plexus::transport::ib {

// The verbs calls for device memory.
class DmabufRegistrar {
 public:
  virtual ~DmabufRegistrar() = default;
  // Registers `length` bytes at `offset` of dma-buf `fd`, which peers address as `iova`. Throws
  // Error naming the device on failure.
  virtual void* regDmabuf(uint64_t offset, size_t length, uint64_t iova, int fd) = 0;
  virtual void dereg(void* registration) = 0;
};

// Where a dma-buf comes from when the caller gives none (cudaDmabufRange in the plugin).
using DmabufSource = bool (*)(const void* ptr, size_t size, DmabufRange* out, std::string* why);
// The remote key of a registration (ibv_mr::rkey in the plugin).
using RemoteKeyOf = uint32_t (*)(void* registration);

// One device's ways to register.
struct RegistrationDevice {
  std::string name;                   // "mlx5_0", for messages
  MrCache* host = nullptr;            // host memory
  DmabufRegistrar* dmabuf = nullptr;  // device memory; nullptr when the device lacks dma-buf
};

class RegionRegistry {
 public:
  RegionRegistry(std::vector<RegistrationDevice> devices, DmabufSource source, RemoteKeyOf keyOf);
  ~RegionRegistry();
  RegionRegistry(const RegionRegistry&) = delete;
  RegionRegistry& operator=(const RegionRegistry&) = delete;

  // PLEXUS_TP_REG_HOST, and PLEXUS_TP_REG_CUDA_DMABUF when every device supports dma-buf (after
  // PLEXUS_NET_GDR and PLEXUS_DMABUF_ENABLE).
  uint32_t caps() const;
  // Registers `region` on every device. Throws Error(kInvalidUsage) saying why when it cannot.
  MemoryRegistration registerRegion(const MemoryRegion& region);
  void deregister(void* handle);
  size_t size() const { return records_.size(); }

 private:
  struct Part {
    const RegistrationDevice* device = nullptr;
    MrCache::Handle cached = nullptr;  // host memory
    void* dmabufReg = nullptr;         // device memory
  };
  struct Record {
    std::vector<Part> parts;
  };
  void release(Record& r);

  std::vector<RegistrationDevice> devices_;
  DmabufSource source_;
  RemoteKeyOf keyOf_;
  std::map<Record*, std::unique_ptr<Record>> records_;
};

}  // namespace plexus::transport::ib
