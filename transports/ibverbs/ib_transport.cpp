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
#include "transports/common/cuda_dmabuf.hpp"
#include "transports/common/loaded_transport.hpp"
#include "transports/common/transport.hpp"
#include "transports/ibverbs/ib_connection.hpp"
#include "transports/ibverbs/ib_device.hpp"
#include "transports/ibverbs/ib_registration.hpp"
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

using namespace ib;

class IbTransport final : public Transport, public IbOwner {
 public:
  IbTransport(const TransportContext& ctx, IbOptions options,
              std::vector<std::unique_ptr<IbDevice>> devices, std::vector<IbPort> ports)
      : ctx_(ctx),
        options_(options),
        devices_(std::move(devices)),
        ports_(std::move(ports)),
        sideband_(ctx, "ibverbs") {
    std::vector<RegistrationDevice> regDevices;
    for (auto& d : devices_)
      regDevices.push_back(RegistrationDevice{d->name, d->mrs.get(), d->dmabuf.get()});
    registry_ =
        std::make_unique<RegionRegistry>(std::move(regDevices), &cudaDmabufRange,
                                         [](void* mr) { return static_cast<ibv_mr*>(mr)->rkey; });
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
  Costs costs() const override {
    Costs c = costsFromDevices(devices(), "ibverbs");
    c.registerCaps = registrationCaps();
    c.registersMemory = c.registerCaps != 0;
    return c;
  }
  uint32_t registrationCaps() const override { return registry_->caps(); }
  MemoryRegistration registerMemory(const MemoryRegion& region) override {
    return registry_->registerRegion(region);
  }
  void deregisterMemory(void* handle) override { registry_->deregister(handle); }
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
      d.mem_kinds = PLEXUS_TP_MEM_HOST |
                    ((registry_->caps() & PLEXUS_TP_REG_CUDA) != 0 ? PLEXUS_TP_MEM_CUDA : 0);
      d.port = p.port;
      out.push_back(d);
    }
    return out;
  }

  const TransportContext& context() const override { return ctx_; }
  const IbOptions& options() const override { return options_; }
  Sideband& sideband() override { return sideband_; }

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
  std::unique_ptr<RegionRegistry> registry_;  // callers' registrations (before devices_ go)
  Sideband sideband_;
  WakeFds wake_;
  std::string address_;
  std::map<std::pair<int, int>, std::unique_ptr<IbConnection>> connections_;
};

// Opens every selected active port; throws kInvalidUsage when there is none.
std::unique_ptr<Transport> makeIbTransport(const TransportContext& ctx) {
  IbOptions options = ibOptionsFromEnv();
  std::vector<std::unique_ptr<IbDevice>> devices;
  std::vector<IbPort> ports;
  openPorts(options, &devices, &ports);
  return std::make_unique<IbTransport>(ctx, options, std::move(devices), std::move(ports));
}

}  // namespace
}  // namespace plexus::transport

// The entry points share their names with the tables' struct tags (C allows it; C++ warns).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
extern "C" __attribute__((visibility("default"))) const plexus_transport_v2_t* plexus_transport_v2(
    void) {
  static const plexus_transport_v2_t table =
      plexus::transport::exportTransport<plexus::transport::makeIbTransport>(
          "ibverbs", 0, PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_DMABUF);
  return &table;
}

// For cores that know only ABI version 1 (no memory registration).
extern "C" __attribute__((visibility("default"))) const plexus_transport_v1_t* plexus_transport_v1(
    void) {
  static const plexus_transport_v1_t table = plexus::transport::versionOne(*plexus_transport_v2());
  return &table;
}
#pragma GCC diagnostic pop
