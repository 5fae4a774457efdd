// The C side of the shipped plugins (ofi, ucx, ibverbs), written in C++: every entry point catches
// exceptions and turns them into result codes plus last_error, so nothing C++ crosses the plugin
// boundary. The built-in shm and tcp transports do not go through here.
#include "transports/plugin_common/abi_export.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace plexus::transport::abi_detail {
namespace {

struct ExportedContext;

struct ExportedConn {
  Connection* conn = nullptr;
  ExportedContext* owner = nullptr;
};

struct ExportedContext {
  TransportContext ctx;
  std::vector<PeerRecord> peers;
  std::atomic<bool> abort{false};
  std::unique_ptr<Transport> impl;
  std::map<Connection*, std::unique_ptr<ExportedConn>> conns;
  std::string lastError;
  ErrorCode pendingCode = ErrorCode::kSuccess;  // a failure inside a call that cannot return one
};

ExportedContext* X(void* ctx) {
  return static_cast<ExportedContext*>(ctx);
}
ExportedConn* C(void* conn) {
  return static_cast<ExportedConn*>(conn);
}

plexus_tp_result_t resultOf(ErrorCode code) {
  return code == ErrorCode::kRemote ? PLEXUS_TP_REMOTE : PLEXUS_TP_ERROR;
}

template <typename F>
plexus_tp_result_t guard(ExportedContext* x, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    x->lastError = e.what();
    return resultOf(e.code());
  } catch (const std::exception& e) {
    x->lastError = std::string("internal error: ") + e.what();
    return PLEXUS_TP_ERROR;
  }
}

// Records a failure of a call whose return value cannot carry it (acquire/peek); the next
// progress() reports it.
void defer(ExportedContext* x, const Error& e) {
  x->lastError = e.what();
  x->pendingCode = e.code();
}

void notePeer(ExportedContext* x, const plexus_tp_peer_t* p) {
  if (p == nullptr || p->rank < 0 || p->rank >= static_cast<int>(x->peers.size())) return;
  PeerRecord& r = x->peers[static_cast<size_t>(p->rank)];
  r.rank = p->rank;
  r.hostHash = p->host_hash;
  r.pid = p->pid;
  r.hostName = p->host_name != nullptr ? p->host_name : "";
  if (p->address != nullptr)
    r.addresses[x->impl->name()] =
        std::string(static_cast<const char*>(p->address), p->address_len);
}

}  // namespace

plexus_tp_result_t initWith(TransportFactory factory, const char*, const plexus_tp_config_t* config,
                            void** ctx, char* error, size_t errorLen) {
  auto fail = [&](plexus_tp_result_t r, const std::string& msg) {
    if (error != nullptr && errorLen > 0) std::snprintf(error, errorLen, "%s", msg.c_str());
    return r;
  };
  if (config == nullptr || ctx == nullptr) return fail(PLEXUS_TP_ERROR, "init: NULL argument");
  if (config->abi_version != PLEXUS_TRANSPORT_ABI_VERSION_1 &&
      config->abi_version != PLEXUS_TRANSPORT_ABI_VERSION_2)
    return fail(PLEXUS_TP_ERROR,
                formatString("ABI version %u requested, this transport speaks 1 and 2",
                             config->abi_version));
  try {
    auto x = std::make_unique<ExportedContext>();
    x->ctx.commId = config->comm_id;
    x->ctx.rank = config->rank;
    x->ctx.nranks = config->nranks;
    x->ctx.slots.slotBytes = config->slot_bytes;
    x->ctx.slots.slots = config->slots;
    std::memcpy(x->ctx.secret, config->secret, sizeof(x->ctx.secret));
    x->ctx.requested = config->requested != 0;
    // mem_kinds exists only in a version 2 config.
    x->ctx.memKinds = config->abi_version >= PLEXUS_TRANSPORT_ABI_VERSION_2 ? config->mem_kinds
                                                                            : PLEXUS_TP_MEM_HOST;
    x->peers.resize(static_cast<size_t>(config->nranks));
    x->ctx.peers = &x->peers;
    x->ctx.abort = &x->abort;
    x->impl = factory(x->ctx);
    if (!x->impl) return fail(PLEXUS_TP_UNAVAILABLE, "no usable device");
    *ctx = x.release();
    return PLEXUS_TP_SUCCESS;
  } catch (const Error& e) {
    // Unavailable hardware is reported as kInvalidUsage by convention of in-tree transports.
    return fail(e.code() == ErrorCode::kInvalidUsage ? PLEXUS_TP_UNAVAILABLE : resultOf(e.code()),
                e.what());
  } catch (const std::exception& e) {
    return fail(PLEXUS_TP_ERROR, e.what());
  }
}

namespace {

// Set-up, addresses, reachability and connections.
void fillControl(plexus_transport_v1_t& t) {
  t.finalize = [](void* ctx) { delete X(ctx); };
  t.device_count = [](void* ctx) { return static_cast<int>(X(ctx)->impl->devices().size()); };
  t.device = [](void* ctx, int index, plexus_tp_device_t* out) {
    auto d = X(ctx)->impl->devices();
    if (index < 0 || index >= static_cast<int>(d.size()) || out == nullptr) return PLEXUS_TP_ERROR;
    *out = d[static_cast<size_t>(index)];
    return PLEXUS_TP_SUCCESS;
  };
  t.local_address = [](void* ctx, void* blob, size_t* len) {
    return guard(X(ctx), [&] {
      std::string a = X(ctx)->impl->localAddress();
      if (a.size() > *len) {
        *len = a.size();
        X(ctx)->lastError = "address buffer too small";
        return PLEXUS_TP_ERROR;
      }
      if (!a.empty()) std::memcpy(blob, a.data(), a.size());
      *len = a.size();
      return PLEXUS_TP_SUCCESS;
    });
  };
  t.can_reach = [](void* ctx, const plexus_tp_peer_t* self, const plexus_tp_peer_t* peer) {
    ExportedContext* x = X(ctx);
    notePeer(x, self);
    notePeer(x, peer);
    try {
      return x->impl->canReach(x->peers.at(static_cast<size_t>(self->rank)),
                               x->peers.at(static_cast<size_t>(peer->rank)))
                 ? 1
                 : 0;
    } catch (const std::exception&) {
      return 0;
    }
  };
  t.connect = [](void* ctx, int connectionId, const plexus_tp_peer_t* peer, void** conn) {
    ExportedContext* x = X(ctx);
    return guard(x, [&] {
      notePeer(x, peer);
      Connection* c = x->impl->connect(connectionId, peer->rank);
      if (c == nullptr) return PLEXUS_TP_AGAIN;
      auto& slot = x->conns[c];
      if (!slot) slot = std::make_unique<ExportedConn>(ExportedConn{c, x});
      *conn = slot.get();
      return PLEXUS_TP_SUCCESS;
    });
  };
  t.reg_mem = [](void*, void*, size_t, uint32_t, void** handle) {
    if (handle != nullptr) *handle = nullptr;
    return PLEXUS_TP_SUCCESS;
  };
  t.dereg_mem = [](void*, void*) { return PLEXUS_TP_SUCCESS; };
}

// The data path of one connection: slots out and in.
void fillDataPath(plexus_transport_v1_t& t) {
  t.send_acquire = [](void* conn) -> void* {
    try {
      return C(conn)->conn->sender().acquire();
    } catch (const Error& e) {
      defer(C(conn)->owner, e);
      return nullptr;
    }
  };
  t.send_post = [](void* conn, uint32_t bytes, uint32_t tag) {
    return guard(C(conn)->owner, [&] {
      C(conn)->conn->sender().post(bytes, tag);
      return PLEXUS_TP_SUCCESS;
    });
  };
  t.recv_peek = [](void* conn, uint32_t* bytes, uint32_t* tag) -> const void* {
    try {
      return C(conn)->conn->receiver().peek(bytes, tag);
    } catch (const Error& e) {
      defer(C(conn)->owner, e);
      return nullptr;
    }
  };
  t.recv_release = [](void* conn) {
    return guard(C(conn)->owner, [&] {
      C(conn)->conn->receiver().release();
      return PLEXUS_TP_SUCCESS;
    });
  };
  t.send_drained = [](void* conn) {
    try {
      return C(conn)->conn->sendDrained() ? 1 : 0;
    } catch (const std::exception&) {
      return 0;
    }
  };
  t.check_peer = [](void* conn) {
    return guard(C(conn)->owner, [&] {
      C(conn)->conn->checkPeer();
      return PLEXUS_TP_SUCCESS;
    });
  };
  t.describe = [](void* conn, char* buf, size_t len) {
    std::snprintf(buf, len, "%s", C(conn)->conn->describe().c_str());
  };
}

// Version 2: memory registration through the C++ contract.
void fillRegistration(plexus_transport_v2_t& t) {
  t.mem_reg_caps = [](void* ctx) -> uint32_t {
    try {
      return X(ctx)->impl->registrationCaps();
    } catch (const std::exception&) {
      return 0;
    }
  };
  t.register_memory = [](void* ctx, const plexus_tp_mem_desc_t* mem, plexus_tp_mem_reg_t* out) {
    return guard(X(ctx), [&] {
      // The descriptor of version 2.0 ends with dmabuf_offset; a shorter one is malformed.
      if (mem == nullptr || out == nullptr || mem->struct_size < sizeof(plexus_tp_mem_desc_t))
        throwError(ErrorCode::kInvalidArgument,
                   "%s transport: register_memory needs a plexus_tp_mem_desc_t of at least %zu "
                   "bytes (struct_size) and an output",
                   X(ctx)->impl->name(), sizeof(plexus_tp_mem_desc_t));
      MemoryRegion r;
      r.ptr = mem->ptr;
      r.size = mem->size;
      r.kind = mem->kind;
      r.device = mem->device;
      r.dmabufFd = mem->dmabuf_fd;
      r.dmabufOffset = mem->dmabuf_offset;
      MemoryRegistration reg = X(ctx)->impl->registerMemory(r);
      out->handle = reg.handle;
      out->remote_key = reg.remoteKey;
      return PLEXUS_TP_SUCCESS;
    });
  };
  t.deregister_memory = [](void* ctx, void* handle) {
    return guard(X(ctx), [&] {
      X(ctx)->impl->deregisterMemory(handle);
      return PLEXUS_TP_SUCCESS;
    });
  };
}

// Progress, waiting, failure.
void fillProgress(plexus_transport_v1_t& t) {
  t.progress = [](void* ctx) {
    ExportedContext* x = X(ctx);
    // Progress first: it may learn why a peer left (an abort notice), which explains a failure
    // deferred from acquire/peek better than that failure itself.
    plexus_tp_result_t r =
        guard(x, [&] { return x->impl->progress() ? PLEXUS_TP_SUCCESS : PLEXUS_TP_AGAIN; });
    if (r != PLEXUS_TP_SUCCESS && r != PLEXUS_TP_AGAIN) return r;
    if (x->pendingCode != ErrorCode::kSuccess) return resultOf(x->pendingCode);
    return r;
  };
  t.poll_fds = [](void* ctx, pollfd* fds, int capacity) {
    ExportedContext* x = X(ctx);
    if (!x->impl->wakeSources().pollFds) return 0;
    std::vector<pollfd> v;
    x->impl->addPollFds(v);
    int n = std::min(capacity, static_cast<int>(v.size()));
    for (int i = 0; i < n; ++i) fds[i] = v[static_cast<size_t>(i)];
    return static_cast<int>(v.size());  // more than capacity: the caller grows its buffer
  };
  t.abort = [](void* ctx, const char* reason) {
    X(ctx)->abort.store(true);
    try {
      X(ctx)->impl->abortAll(reason != nullptr ? reason : "");
    } catch (const std::exception&) {
    }
  };
  t.last_error = [](void* ctx) { return X(ctx)->lastError.c_str(); };
}

}  // namespace

plexus_transport_v2_t baseTable(const char* name, uint32_t flags, uint32_t regCaps) {
  plexus_transport_v2_t t{};
  t.v1.abi_version = PLEXUS_TRANSPORT_ABI_VERSION_2;
  t.v1.name = name;
  t.v1.flags = flags;
  t.struct_size = sizeof(plexus_transport_v2_t);
  t.reg_caps = regCaps;
  fillControl(t.v1);
  fillDataPath(t.v1);
  fillProgress(t.v1);
  fillRegistration(t);
  return t;
}

}  // namespace plexus::transport::abi_detail
