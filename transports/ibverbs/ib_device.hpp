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

// Opens every port PLEXUS_IB_HCA selects that is active and has a usable GID, with its device's
// protection domain, completion channel and MR cache. Throws kInvalidUsage when there is none.
void openPorts(const IbOptions& options, std::vector<std::unique_ptr<IbDevice>>* devices,
               std::vector<IbPort>* ports);

}  // namespace plexus::transport::ib
