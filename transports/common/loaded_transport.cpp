// Plugin loading (the process-wide plugin registry) and the C-table -> Transport adapter.
#include "transports/common/loaded_transport.hpp"

#include <dlfcn.h>
#include <fcntl.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/common/cuda_dmabuf.hpp"

namespace plexus::transport {
namespace {

// The documented registry of plugin libraries: loaded at most once per process and never
// unloaded (transports of live communicators point into them).
struct PluginRegistry {
  std::mutex mutex;
  std::map<std::string, const plexus_transport_v1_t*> tables;
};
PluginRegistry& registry() {
  static PluginRegistry r;
  return r;
}

std::string libraryDirectory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&findTransportTable), &info) == 0 || info.dli_fname == nullptr)
    return {};
  // The real file: through the alias directory (lib/plexus/libplexus.so.0 -> ../libplexus.so.0)
  // the plugins are in lib/plexus, not lib/plexus/plexus.
  char real[PATH_MAX];
  std::string path = realpath(info.dli_fname, real) != nullptr ? real : info.dli_fname;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// The table a plugin library exports: plexus_transport_v2 (its v1 member, abi_version 2), else
// plexus_transport_v1 (abi_version 1). nullptr with why in *refused otherwise.
const plexus_transport_v1_t* tableOf(void* handle, std::string* refused) {
  if (auto v2 =
          reinterpret_cast<plexus_transport_v2_entry_fn>(dlsym(handle, PLEXUS_TRANSPORT_ENTRY))) {
    const plexus_transport_v2_t* t = v2();
    if (t != nullptr && t->v1.abi_version == PLEXUS_TRANSPORT_ABI_VERSION_2 &&
        t->struct_size >= sizeof(plexus_transport_v2_t))
      return &t->v1;
    *refused =
        " speaks another plugin ABI version (its plexus_transport_v2 table is not version 2 "
        "or is too short)";
    return nullptr;
  }
  if (auto v1 =
          reinterpret_cast<plexus_transport_entry_fn>(dlsym(handle, PLEXUS_TRANSPORT_ENTRY_V1))) {
    const plexus_transport_v1_t* t = v1();
    if (t != nullptr && t->abi_version == PLEXUS_TRANSPORT_ABI_VERSION_1) return t;
    *refused = " speaks another plugin ABI version";
    return nullptr;
  }
  *refused = std::string(" has no ") + PLEXUS_TRANSPORT_ENTRY + " or " + PLEXUS_TRANSPORT_ENTRY_V1 +
             " symbol";
  return nullptr;
}

const plexus_transport_v1_t* openPlugin(const std::string& name, std::string* searched,
                                        std::string* failures) {
  std::string file = "libplexus-transport-" + name + ".so";
  std::vector<std::string> candidates;
  if (auto path = envGet("PLUGIN_PATH")) {
    size_t pos = 0;
    while (pos <= path->size()) {
      size_t colon = path->find(':', pos);
      std::string dir =
          path->substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
      if (!dir.empty()) candidates.push_back(dir + "/" + file);
      if (colon == std::string::npos) break;
      pos = colon + 1;
    }
  }
  std::string libdir = libraryDirectory();
  if (!libdir.empty()) candidates.push_back(libdir + "/plexus/" + file);
  candidates.push_back(file);  // LD_LIBRARY_PATH and the system paths
  std::string errors;
  for (const auto& c : candidates) {
    void* handle = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* e = dlerror();
      // A library that exists but fails to load (missing dependency) is worth naming.
      if (e != nullptr && std::strstr(e, "No such file") == nullptr)
        errors += std::string(errors.empty() ? "" : "; ") + e;
      continue;
    }
    std::string refused;
    const plexus_transport_v1_t* table = tableOf(handle, &refused);
    if (table == nullptr) {
      errors += (errors.empty() ? "" : "; ") + c + refused;
      dlclose(handle);
      continue;
    }
    PLEXUS_INFO(subsys::kNet, "transport %s: loaded %s", name.c_str(), c.c_str());
    return table;
  }
  if (searched != nullptr) {
    *searched = "";
    for (const auto& c : candidates) *searched += (searched->empty() ? "" : ", ") + c;
    if (!errors.empty() && failures == nullptr) *searched += " (" + errors + ")";
  }
  if (failures != nullptr) *failures = errors;
  return nullptr;
}

// The version 2 table around `t`, or nullptr for a version 1 table.
const plexus_transport_v2_t* versionTwo(const plexus_transport_v1_t* t) {
  if (t == nullptr || t->abi_version != PLEXUS_TRANSPORT_ABI_VERSION_2) return nullptr;
  // A version 2 table starts with its v1 member (standard layout): same address.
  return reinterpret_cast<const plexus_transport_v2_t*>(t);
}

[[noreturn]] void raise(const plexus_transport_v1_t* t, void* ctx, plexus_tp_result_t r,
                        const char* what) {
  const char* e = t->last_error != nullptr ? t->last_error(ctx) : nullptr;
  // A remote failure's message already names the peer and transport: pass it on as it is.
  if (r == PLEXUS_TP_REMOTE && e != nullptr && *e) throw Error(ErrorCode::kRemote, e);
  throwError(r == PLEXUS_TP_REMOTE ? ErrorCode::kRemote : ErrorCode::kSystem,
             "%s transport: %s%s%s", t->name, what, e != nullptr && *e ? ": " : "",
             e != nullptr ? e : "");
}

class LoadedConnection final : public Connection, public SendEndpoint, public RecvEndpoint {
 public:
  LoadedConnection(const plexus_transport_v1_t* t, void* ctx, void* conn)
      : t_(t), ctx_(ctx), conn_(conn) {}
  SendEndpoint& sender() override { return *this; }
  RecvEndpoint& receiver() override { return *this; }
  std::byte* acquire() override { return static_cast<std::byte*>(t_->send_acquire(conn_)); }
  void post(uint32_t bytes, uint32_t tag) override {
    plexus_tp_result_t r = t_->send_post(conn_, bytes, tag);
    if (r != PLEXUS_TP_SUCCESS) raise(t_, ctx_, r, "send failed");
  }
  const std::byte* peek(uint32_t* bytes, uint32_t* tag) override {
    return static_cast<const std::byte*>(t_->recv_peek(conn_, bytes, tag));
  }
  void release() override {
    plexus_tp_result_t r = t_->recv_release(conn_);
    if (r != PLEXUS_TP_SUCCESS) raise(t_, ctx_, r, "receive failed");
  }
  bool progress() override {
    plexus_tp_result_t r = t_->progress(ctx_);
    if (r == PLEXUS_TP_SUCCESS) return true;
    if (r == PLEXUS_TP_AGAIN) return false;
    raise(t_, ctx_, r, "progress failed");
  }
  void checkPeer() override {
    plexus_tp_result_t r = t_->check_peer(conn_);
    if (r != PLEXUS_TP_SUCCESS) {
      const char* e = t_->last_error(ctx_);
      throw Error(r == PLEXUS_TP_REMOTE ? ErrorCode::kRemote : ErrorCode::kSystem,
                  e != nullptr && *e ? e : describe() + " failed");
    }
  }
  bool sendDrained() const override { return t_->send_drained(conn_) != 0; }
  std::string describe() const override {
    char buf[512] = {};
    t_->describe(conn_, buf, sizeof(buf));
    return buf;
  }

 private:
  const plexus_transport_v1_t* t_;
  void* ctx_;
  void* conn_;
};

class LoadedTransport final : public Transport {
 public:
  LoadedTransport(const plexus_transport_v1_t* t, void* ctx, const TransportContext& tctx)
      : t_(t), ctx_(ctx), tctx_(tctx) {
    // A plugin that rings the Plexus doorbell wakes this rank through its control block.
    int own = RankControl::ownFd(tctx.commId, tctx.rank);
    if ((t->flags & PLEXUS_TP_FLAG_DOORBELL) != 0 && own >= 0)
      doorbell_ = RankControl::map(Fd(fcntl(own, F_DUPFD_CLOEXEC, 0)), tctx.rank);
  }
  ~LoadedTransport() override {
    conns_.clear();
    t_->finalize(ctx_);
  }
  const char* name() const override { return t_->name; }
  std::string localAddress() override {
    std::string blob(4096, '\0');
    size_t len = blob.size();
    plexus_tp_result_t r = t_->local_address(ctx_, blob.data(), &len);
    if (r != PLEXUS_TP_SUCCESS && len > blob.size()) {
      blob.resize(len);
      r = t_->local_address(ctx_, blob.data(), &len);
    }
    if (r != PLEXUS_TP_SUCCESS) raise(t_, ctx_, r, "cannot produce its address");
    blob.resize(len);
    return blob;
  }
  bool canReach(const PeerRecord& self, const PeerRecord& peer) const override {
    PeerView a(self, t_->name), b(peer, t_->name);
    return t_->can_reach(ctx_, &a.view, &b.view) != 0;
  }
  Connection* connect(int connectionId, int peer) override {
    PeerView p((*tctx_.peers)[static_cast<size_t>(peer)], t_->name);
    void* conn = nullptr;
    plexus_tp_result_t r = t_->connect(ctx_, connectionId, &p.view, &conn);
    if (r == PLEXUS_TP_AGAIN) return nullptr;
    if (r != PLEXUS_TP_SUCCESS)
      raise(t_, ctx_, r, formatString("connect to rank %d failed", peer).c_str());
    auto& slot = conns_[conn];
    if (!slot) slot = std::make_unique<LoadedConnection>(t_, ctx_, conn);
    return slot.get();
  }
  bool progress() override {
    plexus_tp_result_t r = t_->progress(ctx_);
    if (r == PLEXUS_TP_SUCCESS) return true;
    if (r == PLEXUS_TP_AGAIN) return false;
    raise(t_, ctx_, r, "progress failed");
  }
  void addPollFds(std::vector<pollfd>& fds) override {
    pollfd buf[256];
    int n = t_->poll_fds(ctx_, buf, 256);
    if (n > 256) {
      std::vector<pollfd> big(static_cast<size_t>(n));
      n = t_->poll_fds(ctx_, big.data(), n);
      fds.insert(fds.end(), big.begin(), big.begin() + std::max(n, 0));
      return;
    }
    for (int i = 0; i < n; ++i) fds.push_back(buf[i]);
  }
  WakeSources wakeSources() const override {
    bool doorbell = (t_->flags & PLEXUS_TP_FLAG_DOORBELL) != 0;
    return {doorbell_.valid() ? &doorbell_ : nullptr, !doorbell};
  }
  Costs costs() const override {
    Costs c = costsFromDevices(devices(), t_->name);
    c.registerCaps = registrationCaps();
    c.registersMemory = c.registerCaps != 0;
    return c;
  }
  uint32_t registrationCaps() const override {
    return v2_ != nullptr && v2_->mem_reg_caps != nullptr ? v2_->mem_reg_caps(ctx_) : 0;
  }
  MemoryRegistration registerMemory(const MemoryRegion& region) override;
  void deregisterMemory(void* handle) override {
    if (v2_ == nullptr || v2_->deregister_memory == nullptr || handle == nullptr) return;
    plexus_tp_result_t r = v2_->deregister_memory(ctx_, handle);
    if (r != PLEXUS_TP_SUCCESS) raise(t_, ctx_, r, "deregistering memory failed");
  }
  void abortAll(const std::string& reason) override { t_->abort(ctx_, reason.c_str()); }
  std::vector<plexus_tp_device_t> devices() const override {
    std::vector<plexus_tp_device_t> out;
    int n = t_->device_count(ctx_);
    for (int i = 0; i < n; ++i) {
      plexus_tp_device_t d{};
      if (t_->device(ctx_, i, &d) == PLEXUS_TP_SUCCESS) out.push_back(d);
    }
    return out;
  }

 private:
  // A PeerRecord seen through the ABI struct (keeps the strings alive).
  struct PeerView {
    plexus_tp_peer_t view{};
    PeerView(const PeerRecord& r, const char* transport) {
      view.rank = r.rank;
      view.host_hash = r.hostHash;
      view.pid = r.pid;
      view.host_name = r.hostName.c_str();
      auto it = r.addresses.find(transport);
      if (it != r.addresses.end()) {
        view.address = it->second.data();
        view.address_len = it->second.size();
      }
    }
  };

  const plexus_transport_v1_t* t_;
  const plexus_transport_v2_t* v2_ = versionTwo(t_);  // nullptr for a version 1 plugin
  void* ctx_;
  const TransportContext& tctx_;
  mutable RankControl doorbell_;  // this rank's, for plugins flagged PLEXUS_TP_FLAG_DOORBELL
  // Adapters of the plugin's connections (owned here; the caller caches the pointers).
  std::map<void*, std::unique_ptr<LoadedConnection>> conns_;
};

MemoryRegistration LoadedTransport::registerMemory(const MemoryRegion& region) {
  if (v2_ == nullptr || v2_->register_memory == nullptr)
    throwError(ErrorCode::kInvalidUsage,
               "%s transport registers no memory (its plugin speaks ABI version 1); %s is staged "
               "through host memory",
               t_->name, describeRegion(region).c_str());
  // The shape here; whether it can register this kind the plugin says (with its own reason).
  checkRegion(t_->name, region, ~0u);
  uint32_t caps = registrationCaps();
  plexus_tp_mem_desc_t desc{};
  desc.struct_size = sizeof(desc);
  desc.kind = region.kind;
  desc.ptr = region.ptr;
  desc.size = region.size;
  desc.device = region.device;
  desc.dmabuf_fd = region.dmabufFd;
  desc.dmabuf_offset = region.dmabufOffset;
  // Device memory for a plugin that registers it only through a dma-buf: get one (and close it
  // after the call; the registration holds its own reference).
  DmabufRange dmabuf;
  if (region.kind == PLEXUS_TP_MEM_CUDA && region.dmabufFd < 0 &&
      (caps & PLEXUS_TP_REG_CUDA) == PLEXUS_TP_REG_CUDA_DMABUF) {
    std::string why;
    if (!cudaDmabufRange(region.ptr, region.size, &dmabuf, &why))
      throwError(ErrorCode::kInvalidUsage, "%s transport cannot register %s: %s", t_->name,
                 describeRegion(region).c_str(), why.c_str());
    desc.dmabuf_fd = dmabuf.fd.get();
    desc.dmabuf_offset = dmabuf.offset;
  }
  plexus_tp_mem_reg_t out{};
  plexus_tp_result_t r = v2_->register_memory(ctx_, &desc, &out);
  if (r != PLEXUS_TP_SUCCESS) {
    const char* e = t_->last_error(ctx_);
    throwError(r == PLEXUS_TP_REMOTE ? ErrorCode::kRemote : ErrorCode::kInvalidUsage,
               "%s transport cannot register %s: %s", t_->name, describeRegion(region).c_str(),
               e != nullptr && *e ? e : "no reason given");
  }
  return MemoryRegistration{out.handle, out.remote_key};
}

void logFromPlugin(void*, int level, const char* message) {
  if (level <= PLEXUS_TP_LOG_WARN)
    PLEXUS_WARN(subsys::kNet, "%s", message);
  else if (level == PLEXUS_TP_LOG_INFO)
    PLEXUS_INFO(subsys::kNet, "%s", message);
  else
    PLEXUS_TRACE(subsys::kNet, "%s", message);
}

}  // namespace

// A plugin's costs from the devices it reports (ABI v1 plexus_tp_device_t): the fastest device's
// bandwidth (Gbit/s -> GB/s) and the lowest latency. A plugin that reports none, or no figures,
// is costed like tcp (and says so once).
Costs costsFromDevices(const std::vector<plexus_tp_device_t>& devices, const char* name) {
  Costs c = tcpCosts();
  double gbps = 0, latency = 0;
  for (const plexus_tp_device_t& d : devices) {
    gbps = std::max(gbps, d.bandwidth_gbps);
    if (d.latency_us > 0 && (latency == 0 || d.latency_us < latency)) latency = d.latency_us;
  }
  if (gbps > 0) c.bandwidthGBps = gbps / 8.0;
  if (latency > 0) c.latencyUs = latency;
  if (gbps <= 0 || latency <= 0)
    PLEXUS_INFO(subsys::kNet,
                "transport %s reports no device bandwidth or latency; costed like tcp for the "
                "missing figure",
                name);
  return c;
}

const plexus_transport_v1_t* findTransportTable(const std::string& name, std::string* searched,
                                                std::string* failures) {
  PluginRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.tables.find(name);
  if (it != r.tables.end()) return it->second;
  const plexus_transport_v1_t* t = openPlugin(name, searched, failures);
  if (t != nullptr) r.tables[name] = t;
  return t;
}

std::unique_ptr<Transport> wrapTransportTable(const plexus_transport_v1_t* table,
                                              const TransportContext& ctx,
                                              std::string* unavailable) {
  plexus_tp_config_t config{};
  // A version 1 plugin checks for 1 and never reads past `host`.
  config.abi_version = table->abi_version == PLEXUS_TRANSPORT_ABI_VERSION_2
                           ? PLEXUS_TRANSPORT_ABI_VERSION_2
                           : PLEXUS_TRANSPORT_ABI_VERSION_1;
  config.mem_kinds = ctx.memKinds;
  config.rank = ctx.rank;
  config.nranks = ctx.nranks;
  config.comm_id = ctx.commId;
  config.slot_bytes = ctx.slots.slotBytes;
  config.slots = ctx.slots.slots;
  std::memcpy(config.secret, ctx.secret, sizeof(config.secret));
  config.requested = ctx.requested ? 1 : 0;
  config.log = &logFromPlugin;
  char error[512] = {};
  void* handle = nullptr;
  plexus_tp_result_t r = table->init(&config, &handle, error, sizeof(error));
  if (r == PLEXUS_TP_UNAVAILABLE) {
    if (unavailable != nullptr) *unavailable = error;
    return nullptr;
  }
  if (r != PLEXUS_TP_SUCCESS)
    throwError(r == PLEXUS_TP_REMOTE ? ErrorCode::kRemote : ErrorCode::kSystem,
               "%s transport: init failed: %s", table->name, error);
  return std::make_unique<LoadedTransport>(table, handle, ctx);
}

std::unique_ptr<Transport> loadTransport(const std::string& name, const TransportContext& ctx) {
  std::string searched;
  const plexus_transport_v1_t* table = findTransportTable(name, &searched);
  if (table == nullptr) {
    PLEXUS_INFO(subsys::kInit, "transport %s: no plugin library (looked for %s); skipped",
                name.c_str(), searched.c_str());
    return nullptr;
  }
  std::string why;
  auto t = wrapTransportTable(table, ctx, &why);
  if (!t)
    PLEXUS_INFO(subsys::kInit, "transport %s: not usable here (%s); skipped", name.c_str(),
                why.c_str());
  return t;
}

}  // namespace plexus::transport
