// The NCCL-compatible C API (include/plexus/nccl.h). Host buffers: each call returns when its
// operation is complete; inside a group, ncclGroupEnd returns when all queued calls are complete.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "api/api_guard.hpp"
#include "api/device_dispatch.hpp"
#include "base/env.hpp"
#include "base/log.hpp"
#include "plexus/launch.h"
#include "runtime/launch_env.hpp"
#include "runtime/shared_alloc.hpp"

using plexus::ErrorCode;
using plexus::throwError;
namespace api = plexus::api;
namespace algo = plexus::algo;

#define PLEXUS_ALIAS(name) __attribute__((alias(#name), visibility("default")))

namespace {

plexus::runtime::UniqueId decodeId(const ncclUniqueId& id) {
  plexus::runtime::UniqueIdBytes bytes;
  std::memcpy(bytes.data(), id.internal, bytes.size());
  return plexus::runtime::UniqueId::decode(bytes);
}

void requireComm(ncclComm_t comm) {
  if (comm == nullptr || !comm->impl)
    throwError(ErrorCode::kInvalidArgument, "the communicator argument is NULL or destroyed");
}

// C callers may pass any int as an enum: read the bits, not the enum (out-of-range enum loads are
// undefined behaviour in C++).
template <typename Enum>
int rawValue(const Enum& e) {
  int v = 0;
  std::memcpy(&v, &e, sizeof(v) < sizeof(e) ? sizeof(v) : sizeof(e));
  return v;
}

ncclResult_t runOp(ncclComm_t comm, algo::Collective coll, const void* in, void* out, size_t count,
                   ncclDataType_t type, ncclRedOp_t op, int root, cudaStream_t stream,
                   bool isSend = false) {
  api::CallScope inside(comm);
  return api::guarded(comm, [&] {
    requireComm(comm);
    const std::string& context = comm->impl->context();
    plexus::runtime::OpArgs a;
    a.collective = coll;
    a.input = in;
    a.output = out;
    a.count = count;
    a.type = plexus::runtime::dataTypeFromInt(rawValue(type), coll, context);
    a.op = plexus::runtime::redOpFromInt(rawValue(op), coll, context);
    a.root = root;
    a.isSend = isSend;
    // Checked now, so that a bad call inside a group fails itself rather than ncclGroupEnd.
    comm->impl->validate(a);
    plexus::LogContext ctx(comm->impl->context());
    if (api::deviceCall(*comm->impl, a, "sendbuff", "recvbuff"))
      api::enqueueDeviceOp(comm, a, stream);  // on the stream; returns at once
    else
      api::enqueueOp(comm, a);
  });
}

ncclResult_t initRank(ncclComm_t* comm, int nranks, const ncclUniqueId& commId, int rank,
                      const char* name) {
  return api::guarded(nullptr, [&] {
    if (comm == nullptr) throwError(ErrorCode::kInvalidArgument, "ncclCommInitRank: comm is NULL");
    plexus::runtime::checkRankArgs(rank, nranks, "ncclCommInitRank");
    *comm = nullptr;
    api::InitRequest r{comm, decodeId(commId), rank, nranks, {}};
    if (name != nullptr) r.options.name = name;
    api::enqueueInit(r);
  });
}

}  // namespace

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  return api::guarded(nullptr, [&] {
    if (version == nullptr)
      throwError(ErrorCode::kInvalidArgument,
                 "ncclGetVersion: version is NULL (pass the address of an int)");
    *version = NCCL_VERSION_CODE;
  });
}

namespace {

void storeId(const plexus::runtime::UniqueId& id, ncclUniqueId* out) {
  auto bytes = id.encode();
  std::memset(out->internal, 0, sizeof(out->internal));
  std::memcpy(out->internal, bytes.data(), bytes.size());
}

// Launcher variables that are set but inconsistent are not ncclGetUniqueId's business (RANK is a
// common name): it then behaves as without a launcher.
std::optional<plexus::runtime::LaunchEnv> launchEnvIfAny() {
  try {
    return plexus::runtime::detectLaunchEnv(/*requireRoot=*/false);
  } catch (const plexus::Error&) {
    return std::nullopt;
  }
}

}  // namespace

// A root address from the environment: every rank derives the same id (as NCCL_COMM_ID) and rank 0
// starts the root at init. Under a launcher without one: a root the launcher implies (Slurm's first
// node; loopback and the job id when every rank is on this host); else rank 0 starts a root of its
// own (the NCCL way: the program ships the id), and any other rank fails at once, naming the
// launcher and the variables (it would wait for a root nobody starts).
ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
  return api::guarded(nullptr, [&] {
    if (uniqueId == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclGetUniqueId: NULL argument");
    std::string root = plexus::runtime::rootAddressFromEnv();
    auto env = launchEnvIfAny();
    if (!root.empty()) {
      plexus::runtime::Secret secret{};
      if (env)
        secret = env->secret;
      else if (auto hex = plexus::envGet("SECRET"))
        secret = plexus::runtime::parseSecretHex(*hex);
      storeId(plexus::runtime::idFromAddress(env ? env->rootAddress : root, secret), uniqueId);
    } else if (env && env->size > 1 && !env->rootAddress.empty()) {
      storeId(plexus::runtime::idFromAddress(env->rootAddress, env->secret), uniqueId);
    } else if (env && env->size > 1 && env->rank != 0) {
      plexus::runtime::detectLaunchEnv(/*requireRoot=*/true);  // throws, naming what to set
    } else {
      storeId(plexus::runtime::createRootAndId(), uniqueId);
    }
  });
}

ncclResult_t plexusGetUniqueIdFromEnv(ncclUniqueId* uniqueId) {
  return api::guarded(nullptr, [&] {
    if (uniqueId == nullptr)
      throwError(ErrorCode::kInvalidArgument, "plexusGetUniqueIdFromEnv: NULL argument");
    auto env = plexus::runtime::detectLaunchEnv(/*requireRoot=*/true);
    if (!env && !plexus::runtime::rootAddressFromEnv().empty()) {
      // No launcher, but an address (as ncclGetUniqueId with PLEXUS_COMM_ID).
      plexus::runtime::Secret secret{};
      if (auto hex = plexus::envGet("SECRET")) secret = plexus::runtime::parseSecretHex(*hex);
      storeId(plexus::runtime::idFromAddress(plexus::runtime::rootAddressFromEnv(), secret),
              uniqueId);
      return;
    }
    if (!env)
      throwError(ErrorCode::kInvalidUsage,
                 "plexusGetUniqueIdFromEnv: no launcher environment found (PLEXUS_RANK, RANK, "
                 "OMPI_COMM_WORLD_RANK or SLURM_PROCID); start the program with plexus-run, "
                 "torchrun, mpirun or srun");
    storeId(plexus::runtime::idFromAddress(env->rootAddress, env->secret), uniqueId);
  });
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
  return initRank(comm, nranks, commId, rank, nullptr);
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank,
                                    ncclConfig_t* config) {
  const char* name = nullptr;
  if (config != nullptr) {
    ncclResult_t bad = api::guarded(nullptr, [&] {
      if (config->magic != 0xcafebeef ||
          config->size < offsetof(ncclConfig_t, commName) + sizeof(char*))
        throwError(ErrorCode::kInvalidArgument,
                   "ncclCommInitRankConfig: the config was not initialised with "
                   "NCCL_CONFIG_INITIALIZER");
      if (config->blocking != NCCL_CONFIG_UNDEF_INT && config->blocking == 0)
        throwError(ErrorCode::kInvalidArgument,
                   "ncclCommInitRankConfig: non-blocking communicators (config.blocking = 0) are "
                   "not supported on host buffers; leave blocking at its default (1)");
    });
    if (bad != ncclSuccess) return bad;
    name = config->commName;
  }
  return initRank(comm, nranks, commId, rank, name);
}

ncclResult_t ncclCommInitRankScalable(ncclComm_t* newcomm, int nranks, int myrank, int nId,
                                      ncclUniqueId* commIds, ncclConfig_t* config) {
  if (nId < 1 || commIds == nullptr) {
    api::setLastError(nullptr, "ncclCommInitRankScalable: need at least one unique id");
    return ncclInvalidArgument;
  }
  return ncclCommInitRankConfig(newcomm, nranks, commIds[0], myrank, config);
}

ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  return api::guarded(nullptr, [&] {
    if (comms == nullptr || ndev < 1)
      throwError(ErrorCode::kInvalidArgument, "ncclCommInitAll: need comms != NULL and ndev >= 1");
    auto id = plexus::runtime::createRootAndId();
    api::groupStart();
    try {
      for (int i = 0; i < ndev; ++i) api::enqueueInit(api::InitRequest{&comms[i], id, i, ndev, {}});
    } catch (...) {
      api::groupEnd();
      throw;
    }
    api::groupEnd();
    for (int i = 0; i < ndev; ++i) comms[i]->device = devlist != nullptr ? devlist[i] : i;
  });
}

ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  api::CallScope inside(comm);
  return api::guarded(comm, [&] {
    requireComm(comm);
    comm->impl->finalize();
  });
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
  std::unique_ptr<ncclComm> owned(comm);
  return api::guarded(nullptr, [&] { owned->impl.reset(); });
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
  return api::guarded(nullptr, [&] { api::abortAndFree(comm, "ncclCommAbort was called"); });
}

ncclResult_t ncclCommRevoke(ncclComm_t comm, int revokeFlags) {
  return api::guarded(comm, [&] {
    requireComm(comm);
    if (revokeFlags != NCCL_REVOKE_DEFAULT)
      throwError(ErrorCode::kInvalidArgument, "ncclCommRevoke: flags must be NCCL_REVOKE_DEFAULT");
    comm->impl->abort("ncclCommRevoke was called");
  });
}

ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm,
                           ncclConfig_t* config) {
  api::CallScope inside(comm);
  return api::guarded(comm, [&] {
    requireComm(comm);
    if (newcomm == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclCommSplit: newcomm is NULL");
    plexus::runtime::CommOptions opts;
    if (config != nullptr && config->magic == 0xcafebeef && config->commName != nullptr)
      opts.name = config->commName;
    auto made = comm->impl->split(color, key, opts);
    *newcomm = nullptr;
    if (made) {
      auto c = std::make_unique<ncclComm>();
      c->impl = std::move(made);
      c->device = comm->device;
      *newcomm = c.release();
    }
  });
}

ncclResult_t ncclCommShrink(ncclComm_t comm, int* excludeRanksList, int excludeRanksCount,
                            ncclComm_t* newcomm, ncclConfig_t* config, int shrinkFlags) {
  api::CallScope inside(comm);
  return api::guarded(comm, [&] {
    requireComm(comm);
    if (newcomm == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclCommShrink: newcomm is NULL");
    *newcomm = nullptr;
    if (excludeRanksCount < 0 || (excludeRanksCount > 0 && excludeRanksList == nullptr))
      throwError(ErrorCode::kInvalidArgument,
                 "ncclCommShrink: excludeRanksList is NULL or excludeRanksCount (%d) is negative",
                 excludeRanksCount);
    if (shrinkFlags != NCCL_SHRINK_DEFAULT && shrinkFlags != NCCL_SHRINK_ABORT)
      throwError(ErrorCode::kInvalidArgument,
                 "ncclCommShrink: shrinkFlags %d is neither NCCL_SHRINK_DEFAULT nor "
                 "NCCL_SHRINK_ABORT",
                 shrinkFlags);
    plexus::runtime::CommOptions opts;
    if (config != nullptr && config->magic == 0xcafebeef && config->commName != nullptr)
      opts.name = config->commName;
    std::vector<int> exclude(excludeRanksList, excludeRanksList + excludeRanksCount);
    auto c = std::make_unique<ncclComm>();
    c->impl = comm->impl->shrink(exclude, shrinkFlags == NCCL_SHRINK_ABORT, opts);
    c->device = comm->device;
    *newcomm = c.release();
  });
}

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess:
      return "no error";
    case ncclUnhandledCudaError:
      return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError:
      return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError:
      return "internal error - please report this issue to the Plexus developers";
    case ncclInvalidArgument:
      return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage:
      return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError:
      return "remote process exited or there was a network error";
    case ncclInProgress:
      return "NCCL operation in progress";
    default:
      return "unknown result code";
  }
}

const char* ncclGetLastError(ncclComm_t comm) {
  return api::lastError(comm);
}

void ncclResetDebugInit(void) {
  plexus::logReset();
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
  api::CallScope inside(comm);
  return api::guarded(comm, [&] {
    requireComm(comm);
    if (asyncError == nullptr) throwError(ErrorCode::kInvalidArgument, "asyncError is NULL");
    *asyncError = api::toResult(api::asyncError(*comm->impl));
  });
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  return api::guarded(comm, [&] {
    requireComm(comm);
    if (count == nullptr) throwError(ErrorCode::kInvalidArgument, "ncclCommCount: count is NULL");
    *count = comm->impl->nranks();
  });
}

ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device) {
  return api::guarded(comm, [&] {
    requireComm(comm);
    if (device == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclCommCuDevice: device is NULL");
    *device = comm->device;
  });
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  return api::guarded(comm, [&] {
    requireComm(comm);
    if (rank == nullptr) throwError(ErrorCode::kInvalidArgument, "ncclCommUserRank: rank is NULL");
    *rank = comm->impl->rank();
  });
}

ncclResult_t ncclMemAlloc(void** ptr, size_t size) {
  return api::guarded(nullptr, [&] {
    if (ptr == nullptr) throwError(ErrorCode::kInvalidArgument, "ncclMemAlloc: ptr is NULL");
    // Peers on this host may map it for zero copy (runtime/shared_alloc.hpp). With the default
    // PLEXUS_SINGLE_COPY=auto a memfd that cannot be had leaves plain memory (the slots serve it).
    const auto choice = plexus::runtime::allocChoice(size);
    if (choice != plexus::runtime::AllocChoice::kPlain) {
      try {
        *ptr = plexus::runtime::sharedAlloc(size);
        return;
      } catch (const plexus::Error&) {
        if (choice == plexus::runtime::AllocChoice::kSharedOnly) throw;
      }
    }
    void* p = nullptr;
    if (posix_memalign(&p, 4096, size == 0 ? 4096 : size) != 0)
      throwError(ErrorCode::kSystem, "ncclMemAlloc: cannot allocate %zu bytes", size);
    *ptr = p;
  });
}

ncclResult_t ncclMemFree(void* ptr) {
  if (!plexus::runtime::sharedFree(ptr)) std::free(ptr);
  return ncclSuccess;
}

// Registration is an optimisation hint; on host buffers Plexus needs none, so it succeeds.
ncclResult_t ncclCommRegister(const ncclComm_t comm, void* buff, size_t, void** handle) {
  return api::guarded(comm, [&] {
    requireComm(comm);
    if (handle == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclCommRegister: handle is NULL");
    *handle = buff;
  });
}

ncclResult_t ncclCommDeregister(const ncclComm_t comm, void*) {
  return api::guarded(comm, [&] { requireComm(comm); });
}

ncclResult_t ncclCommWindowRegister(ncclComm_t comm, void*, size_t, ncclWindow_t* win, int) {
  return api::guarded(comm, [&] {
    if (win != nullptr) *win = nullptr;
    throwError(ErrorCode::kInvalidUsage,
               "ncclCommWindowRegister (symmetric memory) is not supported by Plexus");
  });
}

ncclResult_t ncclCommWindowDeregister(ncclComm_t comm, ncclWindow_t) {
  return api::guarded(comm, [&] {
    throwError(ErrorCode::kInvalidUsage,
               "ncclCommWindowDeregister (symmetric memory) is not supported by Plexus");
  });
}

ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void*, ncclDataType_t, ncclScalarResidence_t,
                                      ncclComm_t comm) {
  return api::guarded(comm, [&] {
    if (op != nullptr) *op = ncclSum;
    throwError(ErrorCode::kInvalidUsage,
               "ncclRedOpCreatePreMulSum is not supported by Plexus yet; scale the input and use "
               "ncclSum");
  });
}

ncclResult_t ncclRedOpDestroy(ncclRedOp_t, ncclComm_t comm) {
  return api::guarded(comm, [&] {
    throwError(ErrorCode::kInvalidUsage,
               "ncclRedOpDestroy: Plexus creates no custom reduction ops");
  });
}

ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                        ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream) {
  return runOp(comm, algo::Collective::kReduce, sendbuff, recvbuff, count, datatype, op, root,
               stream);
}

ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                       cudaStream_t stream) {
  return ncclBroadcast(buff, buff, count, datatype, root, comm, stream);
}

ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, int root, ncclComm_t comm,
                           cudaStream_t stream) {
  return runOp(comm, algo::Collective::kBroadcast, sendbuff, recvbuff, count, datatype, ncclSum,
               root, stream);
}

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream) {
  return runOp(comm, algo::Collective::kAllReduce, sendbuff, recvbuff, count, datatype, op, 0,
               stream);
}

ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                               ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                               cudaStream_t stream) {
  return runOp(comm, algo::Collective::kReduceScatter, sendbuff, recvbuff, recvcount, datatype, op,
               0, stream);
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                           ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return runOp(comm, algo::Collective::kAllGather, sendbuff, recvbuff, sendcount, datatype, ncclSum,
               0, stream);
}

ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count,
                          ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return runOp(comm, algo::Collective::kAllToAll, sendbuff, recvbuff, count, datatype, ncclSum, 0,
               stream);
}

ncclResult_t ncclGather(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                        int root, ncclComm_t comm, cudaStream_t stream) {
  return runOp(comm, algo::Collective::kGather, sendbuff, recvbuff, count, datatype, ncclSum, root,
               stream);
}

ncclResult_t ncclScatter(const void* sendbuff, void* recvbuff, size_t count,
                         ncclDataType_t datatype, int root, ncclComm_t comm, cudaStream_t stream) {
  return runOp(comm, algo::Collective::kScatter, sendbuff, recvbuff, count, datatype, ncclSum, root,
               stream);
}

ncclResult_t ncclSend(const void* sendbuff, size_t count, ncclDataType_t datatype, int peer,
                      ncclComm_t comm, cudaStream_t stream) {
  return runOp(comm, algo::Collective::kSendRecv, sendbuff, nullptr, count, datatype, ncclSum, peer,
               stream, true);
}

ncclResult_t ncclRecv(void* recvbuff, size_t count, ncclDataType_t datatype, int peer,
                      ncclComm_t comm, cudaStream_t stream) {
  return runOp(comm, algo::Collective::kSendRecv, nullptr, recvbuff, count, datatype, ncclSum, peer,
               stream, false);
}

ncclResult_t ncclGroupStart(void) {
  api::groupStart();
  return ncclSuccess;
}

ncclResult_t ncclGroupEnd(void) {
  return api::guarded(nullptr, [] { api::groupEnd(); });
}

ncclResult_t ncclGroupSimulateEnd(ncclSimInfo_t* simInfo) {
  return api::guarded(nullptr, [&] {
    (void)simInfo;
    throwError(ErrorCode::kInvalidUsage, "ncclGroupSimulateEnd is not supported by Plexus yet");
  });
}

// Profiling aliases (pnccl*), as NCCL exports them.
ncclResult_t pncclGetVersion(int*) PLEXUS_ALIAS(ncclGetVersion);
ncclResult_t pncclGetUniqueId(ncclUniqueId*) PLEXUS_ALIAS(ncclGetUniqueId);
ncclResult_t pncclCommInitRank(ncclComm_t*, int, ncclUniqueId, int) PLEXUS_ALIAS(ncclCommInitRank);
ncclResult_t pncclCommInitRankConfig(ncclComm_t*, int, ncclUniqueId, int, ncclConfig_t*)
    PLEXUS_ALIAS(ncclCommInitRankConfig);
ncclResult_t pncclCommInitRankScalable(ncclComm_t*, int, int, int, ncclUniqueId*, ncclConfig_t*)
    PLEXUS_ALIAS(ncclCommInitRankScalable);
ncclResult_t pncclCommInitAll(ncclComm_t*, int, const int*) PLEXUS_ALIAS(ncclCommInitAll);
ncclResult_t pncclCommFinalize(ncclComm_t) PLEXUS_ALIAS(ncclCommFinalize);
ncclResult_t pncclCommDestroy(ncclComm_t) PLEXUS_ALIAS(ncclCommDestroy);
ncclResult_t pncclCommAbort(ncclComm_t) PLEXUS_ALIAS(ncclCommAbort);
ncclResult_t pncclCommRevoke(ncclComm_t, int) PLEXUS_ALIAS(ncclCommRevoke);
ncclResult_t pncclCommSplit(ncclComm_t, int, int, ncclComm_t*, ncclConfig_t*)
    PLEXUS_ALIAS(ncclCommSplit);
ncclResult_t pncclCommShrink(ncclComm_t, int*, int, ncclComm_t*, ncclConfig_t*, int)
    PLEXUS_ALIAS(ncclCommShrink);
const char* pncclGetErrorString(ncclResult_t) PLEXUS_ALIAS(ncclGetErrorString);
const char* pncclGetLastError(ncclComm_t) PLEXUS_ALIAS(ncclGetLastError);
void pncclResetDebugInit(void) PLEXUS_ALIAS(ncclResetDebugInit);
ncclResult_t pncclCommGetAsyncError(ncclComm_t, ncclResult_t*) PLEXUS_ALIAS(ncclCommGetAsyncError);
ncclResult_t pncclCommCount(const ncclComm_t, int*) PLEXUS_ALIAS(ncclCommCount);
ncclResult_t pncclCommCuDevice(const ncclComm_t, int*) PLEXUS_ALIAS(ncclCommCuDevice);
ncclResult_t pncclCommUserRank(const ncclComm_t, int*) PLEXUS_ALIAS(ncclCommUserRank);
ncclResult_t pncclMemAlloc(void**, size_t) PLEXUS_ALIAS(ncclMemAlloc);
ncclResult_t pncclMemFree(void*) PLEXUS_ALIAS(ncclMemFree);
ncclResult_t pncclCommRegister(const ncclComm_t, void*, size_t, void**)
    PLEXUS_ALIAS(ncclCommRegister);
ncclResult_t pncclCommDeregister(const ncclComm_t, void*) PLEXUS_ALIAS(ncclCommDeregister);
ncclResult_t pncclCommWindowRegister(ncclComm_t, void*, size_t, ncclWindow_t*, int)
    PLEXUS_ALIAS(ncclCommWindowRegister);
ncclResult_t pncclCommWindowDeregister(ncclComm_t, ncclWindow_t)
    PLEXUS_ALIAS(ncclCommWindowDeregister);
ncclResult_t pncclRedOpCreatePreMulSum(ncclRedOp_t*, void*, ncclDataType_t, ncclScalarResidence_t,
                                       ncclComm_t) PLEXUS_ALIAS(ncclRedOpCreatePreMulSum);
ncclResult_t pncclRedOpDestroy(ncclRedOp_t, ncclComm_t) PLEXUS_ALIAS(ncclRedOpDestroy);
ncclResult_t pncclReduce(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, int, ncclComm_t,
                         cudaStream_t) PLEXUS_ALIAS(ncclReduce);
ncclResult_t pncclBcast(void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclBcast);
ncclResult_t pncclBroadcast(const void*, void*, size_t, ncclDataType_t, int, ncclComm_t,
                            cudaStream_t) PLEXUS_ALIAS(ncclBroadcast);
ncclResult_t pncclAllReduce(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                            cudaStream_t) PLEXUS_ALIAS(ncclAllReduce);
ncclResult_t pncclReduceScatter(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                                cudaStream_t) PLEXUS_ALIAS(ncclReduceScatter);
ncclResult_t pncclAllGather(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclAllGather);
ncclResult_t pncclAlltoAll(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclAlltoAll);
ncclResult_t pncclGather(const void*, void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclGather);
ncclResult_t pncclScatter(const void*, void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclScatter);
ncclResult_t pncclSend(const void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclSend);
ncclResult_t pncclRecv(void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclRecv);
ncclResult_t pncclGroupStart(void) PLEXUS_ALIAS(ncclGroupStart);
ncclResult_t pncclGroupEnd(void) PLEXUS_ALIAS(ncclGroupEnd);
ncclResult_t pncclGroupSimulateEnd(ncclSimInfo_t*) PLEXUS_ALIAS(ncclGroupSimulateEnd);

}  // extern "C"
