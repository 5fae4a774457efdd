// Opening the RDMA devices and ports the ibverbs plugin uses, and its options.
#include "transports/ibverbs/ib_device.hpp"

#include <fcntl.h>
#include <stdlib.h>

#include <climits>
#include <cstring>

#include "base/env.hpp"
#include "base/log.hpp"
#include "transports/ibverbs/hca_list.hpp"

namespace plexus::transport::ib {
namespace {

std::string pciPathOf(const std::string& device) {
  std::string link = "/sys/class/infiniband/" + device + "/device";
  char buf[PATH_MAX];
  if (realpath(link.c_str(), buf) == nullptr) return {};
  return buf;
}

// Port `p` of an opened device when it is active and has a usable GID; otherwise why not is added
// to `skipped`.
std::optional<IbPort> openPort(IbDevice& dev, int p, const IbOptions& options,
                               std::string* skipped) {
  IbPort port;
  port.port = p;
  if (ibv_query_port(dev.ctx, static_cast<uint8_t>(p), &port.attr) != 0) return std::nullopt;
  if (port.attr.state != IBV_PORT_ACTIVE) {
    *skipped += formatString(" %s:%d (not active)", dev.name.c_str(), p);
    return std::nullopt;
  }
  port.linkLayer = port.attr.link_layer == IBV_LINK_LAYER_ETHERNET ? LinkLayer::kEthernet
                                                                   : LinkLayer::kInfiniBand;
  std::vector<ib::GidEntry> table;
  for (int g = 0; g < port.attr.gid_tbl_len; ++g) {
    ibv_gid_entry e{};
    if (ibv_query_gid_ex(dev.ctx, static_cast<uint32_t>(p), static_cast<uint32_t>(g), &e, 0) != 0)
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
    *skipped += formatString(" %s:%d (no usable GID%s)", dev.name.c_str(), p,
                             options.gidIndex ? " at PLEXUS_IB_GID_INDEX" : "");
    return std::nullopt;
  }
  port.gidIndex = *gid;
  if (ibv_query_gid(dev.ctx, static_cast<uint8_t>(p), *gid, &port.gid) != 0) return std::nullopt;
  port.gbps = ib::portRateGbps(port.attr.active_width, port.attr.active_speed);
  port.pciPath = pciPathOf(dev.name);
  return port;
}

}  // namespace

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

void openPorts(const IbOptions& options, std::vector<std::unique_ptr<IbDevice>>* devices,
               std::vector<IbPort>* ports) {
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
    for (int p = 1; p <= attr.phys_port_cnt; ++p)
      if (filter.selects(name, p))
        if (auto port = openPort(*dev, p, options, &skipped)) devPorts.push_back(*port);
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
    if (VerbsDmabufRegistrar::supported(dev->pd))
      dev->dmabuf = std::make_unique<VerbsDmabufRegistrar>(dev->pd, name);
    for (IbPort& p : devPorts) {
      p.device = dev.get();
      PLEXUS_INFO(subsys::kNet,
                  "ibverbs transport: %s, %s, %.0f Gbit/s, GID index %d, dma-buf registration %s",
                  p.name().c_str(),
                  p.linkLayer == LinkLayer::kInfiniBand ? "InfiniBand" : "Ethernet (RoCE)", p.gbps,
                  p.gidIndex, dev->dmabuf ? "supported" : "not supported");
      ports->push_back(p);
    }
    devices->push_back(std::move(dev));
  }
  ibv_free_device_list(list);
  if (ports->empty())
    throwError(ErrorCode::kInvalidUsage, "no active RDMA port%s%s%s%s",
               spec.empty() ? "" : " matches PLEXUS_IB_HCA=", spec.c_str(),
               skipped.empty() ? "" : "; skipped:", skipped.c_str());
}

}  // namespace plexus::transport::ib
