// NCCL entry points that Plexus exports so that frameworks linked against NCCL 2.29/2.30 load
// (PyTorch's libtorch_cuda.so imports them), but does not implement yet: NCCL's device API
// (ncclDevComm*, device pointers of symmetric windows), one-sided operations (ncclPutSignal,
// ncclSignal, ncclWaitSignal) and ncclWinGetUserPtr. Each checks its arguments as NCCL does
// (ncclInvalidArgument naming the bad one) and then returns ncclInvalidUsage with a message in
// ncclGetLastError saying what is unsupported and what to use instead.
#include <cstring>

#include "api/api_guard.hpp"

using plexus::ErrorCode;
using plexus::throwError;
namespace api = plexus::api;

#define PLEXUS_ALIAS(name) __attribute__((alias(#name), visibility("default")))

namespace {

constexpr const char* kWhere = "issue 13 scope 8";

// "rank R of N, comm C": which communicator a message is about.
const char* contextOf(ncclComm_t comm, const char* call) {
  if (comm == nullptr || !comm->impl)
    throwError(ErrorCode::kInvalidArgument, "%s: the communicator argument is NULL or destroyed",
               call);
  return comm->impl->context().c_str();
}

void checkPeer(ncclComm_t comm, int peer, const char* call) {
  int n = comm->impl->nranks();
  if (peer < 0 || peer >= n)
    throwError(ErrorCode::kInvalidArgument,
               "%s (%s): peer %d is not a rank of this %d-rank communicator", call,
               comm->impl->context().c_str(), peer, n);
}

[[noreturn]] void oneSided(const char* call, const char* ctx) {
  throwError(ErrorCode::kInvalidUsage,
             "%s: one-sided operations are not supported by Plexus yet (%s); use ncclSend/ncclRecv "
             "inside ncclGroupStart/ncclGroupEnd [%s]",
             call, kWhere, ctx);
}

[[noreturn]] void deviceApi(const char* call, const char* ctx) {
  throwError(ErrorCode::kInvalidUsage,
             "%s: NCCL's device API (nccl_device.h: device communicators, symmetric-window device "
             "pointers) is not supported by Plexus yet (%s); use the host-launched collectives "
             "(ncclAllReduce, ...) on a stream [%s]",
             call, kWhere, ctx);
}

void requireOut(void** out, const char* call, const char* name) {
  if (out == nullptr) throwError(ErrorCode::kInvalidArgument, "%s: %s is NULL", call, name);
  *out = nullptr;
}

}  // namespace

extern "C" {

ncclResult_t ncclDevCommCreate(ncclComm_t comm, ncclDevCommRequirements_t const* reqs,
                               ncclDevComm_t* outDevComm) {
  return api::guarded(comm, [&] {
    const char* ctx = contextOf(comm, "ncclDevCommCreate");
    if (reqs == nullptr)
      throwError(ErrorCode::kInvalidArgument,
                 "ncclDevCommCreate (%s): reqs is NULL (start from "
                 "NCCL_DEV_COMM_REQUIREMENTS_INITIALIZER)",
                 ctx);
    if (outDevComm == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclDevCommCreate (%s): outDevComm is NULL", ctx);
    deviceApi("ncclDevCommCreate", ctx);
  });
}

ncclResult_t ncclDevCommDestroy(ncclComm_t comm, ncclDevComm_t const* devComm) {
  return api::guarded(comm, [&] {
    const char* ctx = contextOf(comm, "ncclDevCommDestroy");
    if (devComm == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclDevCommDestroy (%s): devComm is NULL", ctx);
    deviceApi("ncclDevCommDestroy", ctx);
  });
}

ncclResult_t ncclGetLsaMultimemDevicePointer(ncclWindow_t window, size_t, void** outPtr) {
  return api::guarded(nullptr, [&] {
    requireOut(outPtr, "ncclGetLsaMultimemDevicePointer", "outPtr");
    if (window == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclGetLsaMultimemDevicePointer: window is NULL");
    deviceApi("ncclGetLsaMultimemDevicePointer", "no communicator");
  });
}

ncclResult_t ncclGetPeerDevicePointer(ncclWindow_t window, size_t, int peer, void** outPtr) {
  return api::guarded(nullptr, [&] {
    requireOut(outPtr, "ncclGetPeerDevicePointer", "outPtr");
    if (window == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclGetPeerDevicePointer: window is NULL");
    if (peer < 0)
      throwError(ErrorCode::kInvalidArgument, "ncclGetPeerDevicePointer: peer %d < 0", peer);
    deviceApi("ncclGetPeerDevicePointer", "no communicator");
  });
}

// Windows are never created (ncclCommWindowRegister fails), so no window has a user pointer.
ncclResult_t ncclWinGetUserPtr(ncclComm_t comm, ncclWindow_t win, void** outUserPtr) {
  return api::guarded(comm, [&] {
    const char* ctx = contextOf(comm, "ncclWinGetUserPtr");
    requireOut(outUserPtr, "ncclWinGetUserPtr", "outUserPtr");
    if (win == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclWinGetUserPtr (%s): win is NULL", ctx);
    throwError(ErrorCode::kInvalidUsage,
               "ncclWinGetUserPtr: symmetric memory windows are not supported by Plexus yet (%s); "
               "ncclCommWindowRegister makes none, so this window is not Plexus's [%s]",
               kWhere, ctx);
  });
}

ncclResult_t ncclPutSignal(const void* localbuff, size_t count, ncclDataType_t datatype, int peer,
                           ncclWindow_t peerWin, size_t, int, int, unsigned int, ncclComm_t comm,
                           cudaStream_t) {
  return api::guarded(comm, [&] {
    const char* ctx = contextOf(comm, "ncclPutSignal");
    checkPeer(comm, peer, "ncclPutSignal");
    int type = 0;
    std::memcpy(&type, &datatype,
                sizeof(type) < sizeof(datatype) ? sizeof(type) : sizeof(datatype));
    if (type < 0 || type >= ncclNumTypes)
      throwError(ErrorCode::kInvalidArgument, "ncclPutSignal (%s): invalid datatype %d", ctx, type);
    if (localbuff == nullptr && count > 0)
      throwError(ErrorCode::kInvalidArgument,
                 "ncclPutSignal (%s): localbuff is NULL with count %zu", ctx, count);
    if (peerWin == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclPutSignal (%s): peerWin is NULL", ctx);
    oneSided("ncclPutSignal", ctx);
  });
}

ncclResult_t ncclSignal(int peer, int, int, unsigned int, ncclComm_t comm, cudaStream_t) {
  return api::guarded(comm, [&] {
    const char* ctx = contextOf(comm, "ncclSignal");
    checkPeer(comm, peer, "ncclSignal");
    oneSided("ncclSignal", ctx);
  });
}

ncclResult_t ncclWaitSignal(int nDesc, ncclWaitSignalDesc_t* signalDescs, ncclComm_t comm,
                            cudaStream_t) {
  return api::guarded(comm, [&] {
    const char* ctx = contextOf(comm, "ncclWaitSignal");
    if (nDesc < 0 || (nDesc > 0 && signalDescs == nullptr))
      throwError(ErrorCode::kInvalidArgument,
                 "ncclWaitSignal (%s): need nDesc >= 0 and signalDescs != NULL; got nDesc %d and "
                 "signalDescs %p",
                 ctx, nDesc, static_cast<void*>(signalDescs));
    for (int i = 0; i < nDesc; ++i) {
      checkPeer(comm, signalDescs[i].peer, "ncclWaitSignal");
      if (signalDescs[i].opCnt < 0)
        throwError(ErrorCode::kInvalidArgument, "ncclWaitSignal (%s): signalDescs[%d].opCnt %d < 0",
                   ctx, i, signalDescs[i].opCnt);
    }
    oneSided("ncclWaitSignal", ctx);
  });
}

ncclResult_t pncclDevCommCreate(ncclComm_t, ncclDevCommRequirements_t const*, ncclDevComm_t*)
    PLEXUS_ALIAS(ncclDevCommCreate);
ncclResult_t pncclDevCommDestroy(ncclComm_t, ncclDevComm_t const*) PLEXUS_ALIAS(ncclDevCommDestroy);
ncclResult_t pncclGetLsaMultimemDevicePointer(ncclWindow_t, size_t, void**)
    PLEXUS_ALIAS(ncclGetLsaMultimemDevicePointer);
ncclResult_t pncclGetPeerDevicePointer(ncclWindow_t, size_t, int, void**)
    PLEXUS_ALIAS(ncclGetPeerDevicePointer);
ncclResult_t pncclWinGetUserPtr(ncclComm_t, ncclWindow_t, void**) PLEXUS_ALIAS(ncclWinGetUserPtr);
ncclResult_t pncclPutSignal(const void*, size_t, ncclDataType_t, int, ncclWindow_t, size_t, int,
                            int, unsigned int, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclPutSignal);
ncclResult_t pncclSignal(int, int, int, unsigned int, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclSignal);
ncclResult_t pncclWaitSignal(int, ncclWaitSignalDesc_t*, ncclComm_t, cudaStream_t)
    PLEXUS_ALIAS(ncclWaitSignal);

}  // extern "C"
