// The ibverbs plugin's devices and ports as opened at start-up, its options, and the constants of
// its protocol (see ib_transport.cpp).
#pragma once

#include <infiniband/verbs.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "transports/ibverbs/ib_registration.hpp"
#include "transports/ibverbs/ib_wire.hpp"
#include "transports/ibverbs/mr_cache.hpp"

namespace plexus::transport::ib {

struct IbOptions {
  int qps = 1;
  int timeout = 18;
  int retry = 7;
  int sl = 0;
  int tc = 0;
  size_t mrCache = 256;
  std::optional<int> gidIndex;
};

// PLEXUS_IB_QPS_PER_CONNECTION, _TIMEOUT, _RETRY_CNT, _SL, _TC, _MR_CACHE_SIZE, _GID_INDEX
// (checked).
IbOptions ibOptionsFromEnv();

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

// ibv_reg_dmabuf_mr/ibv_dereg_mr for device memory (GPUDirect RDMA through dma-buf).
class VerbsDmabufRegistrar final : public ib::DmabufRegistrar {
 public:
  VerbsDmabufRegistrar(ibv_pd* pd, std::string device) : pd_(pd), device_(std::move(device)) {}
  void* regDmabuf(uint64_t offset, size_t length, uint64_t iova, int fd) override {
    ibv_mr* mr = ibv_reg_dmabuf_mr(
        pd_, offset, length, iova, fd,
        IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
    if (mr == nullptr)
      throwSystemError(errno,
                       "ibverbs transport: ibv_reg_dmabuf_mr of %zu bytes (dma-buf fd %d + %llu) "
                       "on %s failed (check that the GPU and NIC allow peer-to-peer DMA and the "
                       "locked memory limit)",
                       length, fd, static_cast<unsigned long long>(offset), device_.c_str());
    return mr;
  }
  void dereg(void* registration) override { ibv_dereg_mr(static_cast<ibv_mr*>(registration)); }
  // Whether this device's kernel driver and provider accept dma-buf registrations: a probe with
  // an invalid fd fails with EOPNOTSUPP or EPROTONOSUPPORT only when they do not.
  static bool supported(ibv_pd* pd) {
    errno = 0;
    ibv_mr* mr = ibv_reg_dmabuf_mr(pd, 0, 0, 0, -1, 0);
    if (mr != nullptr) {
      ibv_dereg_mr(mr);
      return true;
    }
    return errno != EOPNOTSUPP && errno != EPROTONOSUPPORT;
  }

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
  std::unique_ptr<VerbsDmabufRegistrar> dmabuf;  // nullptr when the device lacks dma-buf

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

// Opens every port PLEXUS_IB_HCA selects that is active and has a usable GID, with its device's
// protection domain, completion channel and MR cache. Throws kInvalidUsage when there is none.
void openPorts(const IbOptions& options, std::vector<std::unique_ptr<IbDevice>>* devices,
               std::vector<IbPort>* ports);

}  // namespace plexus::transport::ib
