// The C++ type of every NCCL entry point Plexus exports, as typeid names, from whichever nccl.h
// the include path selects: compiled once against Plexus's header and once against NVIDIA's
// newest (NCCL 2.30, with nccl_device.h for the device API), under two function names.
#include <nccl.h>
#ifdef SIGNATURE_WITH_DEVICE_HEADER
#include <nccl_device.h>
#endif

#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#ifndef SIGNATURE_TABLE_FN
#error "define SIGNATURE_TABLE_FN"
#endif

#define NCCL_ENTRY_POINTS(X)                                                                       \
  X(ncclMemAlloc)                                                                                  \
  X(ncclMemFree) X(ncclGetVersion) X(ncclGetUniqueId) X(ncclCommInitRankConfig)                    \
      X(ncclCommInitRank) X(ncclCommInitAll) X(ncclCommInitRankScalable) X(ncclCommFinalize) X(    \
          ncclCommDestroy) X(ncclCommAbort) X(ncclCommRevoke) X(ncclCommSplit) X(ncclCommShrink)   \
          X(ncclCommGetUniqueId) X(ncclCommGrow) X(ncclCommSuspend) X(ncclCommResume) X(           \
              ncclCommMemStats) X(ncclGetErrorString) X(ncclGetLastError) X(ncclCommGetAsyncError) \
              X(ncclCommCount) X(ncclCommCuDevice) X(ncclCommUserRank) X(ncclCommRegister)         \
                  X(ncclCommDeregister) X(ncclCommWindowRegister) X(ncclCommWindowDeregister)      \
                      X(ncclWinGetUserPtr) X(ncclDevCommCreate) X(ncclDevCommDestroy)              \
                          X(ncclGetLsaMultimemDevicePointer) X(ncclGetPeerDevicePointer)           \
                              X(ncclRedOpCreatePreMulSum) X(ncclRedOpDestroy) X(ncclReduce)        \
                                  X(ncclBcast) X(ncclBroadcast) X(ncclAllReduce)                   \
                                      X(ncclReduceScatter) X(ncclAllGather) X(ncclAlltoAll)        \
                                          X(ncclGather) X(ncclScatter) X(ncclSend) X(ncclRecv)     \
                                              X(ncclPutSignal) X(ncclSignal) X(ncclWaitSignal)     \
                                                  X(ncclGroupStart) X(ncclGroupEnd)                \
                                                      X(ncclGroupSimulateEnd)

std::vector<std::pair<std::string, std::string>> SIGNATURE_TABLE_FN() {
  std::vector<std::pair<std::string, std::string>> t;
#define RECORD(f) t.emplace_back(#f, typeid(decltype(f)).name());
  NCCL_ENTRY_POINTS(RECORD)
#undef RECORD
  t.emplace_back("sizeof(ncclWaitSignalDesc_t)", std::to_string(sizeof(ncclWaitSignalDesc_t)));
  t.emplace_back("ncclStatGpuMemTotal", std::to_string(ncclStatGpuMemTotal));
  t.emplace_back("NCCL_SUSPEND_MEM", std::to_string(NCCL_SUSPEND_MEM));
  return t;
}
