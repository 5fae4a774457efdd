/*
 * Plexus NCCL-compatible C API.
 *
 * Source-compatible and ABI-compatible with the NCCL 2.28 header: the same names, enum values,
 * result codes, the 128-byte ncclUniqueId and the ncclConfig_t layout, so that programs written
 * for NCCL compile and link against Plexus unchanged (link with -lplexus, or with -lnccl from
 * Plexus's lib/plexus directory). tests/api/nccl_abi_test checks this against NVIDIA's header.
 *
 * Completion semantics on host buffers: every collective and point-to-point call returns when its
 * operation is complete on the calling rank. Inside ncclGroupStart/ncclGroupEnd, calls are queued
 * and ncclGroupEnd returns when all of them are complete. The stream argument is accepted for
 * compatibility; pass NULL (or any stream) for host buffers.
 *
 * Device (and managed) buffers, as NCCL: the call enqueues the operation on the stream and
 * returns; it runs after earlier work on the stream and later work sees its result; a group is one
 * staging round; ncclCommGetAsyncError reports failures. Mixing host and device buffers in one
 * call is ncclInvalidArgument; CUDA graph capture is refused with ncclInvalidUsage (docs/gpu.md).
 */
#ifndef NCCL_H_
#define NCCL_H_

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__has_include)
#if __has_include(<cuda_runtime.h>) && !defined(PLEXUS_NO_CUDA_HEADERS)
#include <cuda_runtime.h>
#define PLEXUS_NCCL_HAVE_CUDA_RUNTIME 1
#endif
#endif
#ifndef PLEXUS_NCCL_HAVE_CUDA_RUNTIME
/* Same declaration as the CUDA runtime's, so both headers may be included in either order. */
typedef struct CUstream_st* cudaStream_t;
#endif

#define NCCL_MAJOR 2
#define NCCL_MINOR 28
#define NCCL_PATCH 9
#define NCCL_SUFFIX ""

#define NCCL_VERSION_CODE 22809
#define NCCL_VERSION(X, Y, Z) \
  (((X) <= 2 && (Y) <= 8) ? (X) * 1000 + (Y) * 100 + (Z) : (X) * 10000 + (Y) * 100 + (Z))

/* Plexus's own version, independent of the NCCL API level it implements. */
#define PLEXUS_VERSION_MAJOR 0
#define PLEXUS_VERSION_MINOR 1
#define PLEXUS_VERSION_PATCH 0

#if defined(__GNUC__)
#define PLEXUS_API __attribute__((visibility("default")))
#else
#define PLEXUS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ncclComm* ncclComm_t;
typedef struct ncclWindow_vidmem* ncclWindow_t;
#define NCCL_COMM_NULL NULL

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

typedef enum {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6,
  ncclInProgress = 7,
  ncclNumResults = 8
} ncclResult_t;

#define NCCL_CONFIG_UNDEF_INT INT_MIN
#define NCCL_CONFIG_UNDEF_PTR NULL
#define NCCL_SPLIT_NOCOLOR -1
#define NCCL_UNDEF_FLOAT -1.0f

#define NCCL_WIN_DEFAULT 0x00
#define NCCL_WIN_COLL_SYMMETRIC 0x01
#define NCCL_WIN_REQUIRED_ALIGNMENT 4096

#define NCCL_CTA_POLICY_DEFAULT 0x00
#define NCCL_CTA_POLICY_EFFICIENCY 0x01
#define NCCL_CTA_POLICY_ZERO 0x02

#define NCCL_SHRINK_DEFAULT 0x00
#define NCCL_SHRINK_ABORT 0x01

#define NCCL_REVOKE_DEFAULT 0x00

/* Communicator configuration (layout of NCCL 2.28). Initialise with NCCL_CONFIG_INITIALIZER.
 * Plexus honours: blocking (only blocking communicators are supported on host buffers; a
 * non-blocking request is refused with ncclInvalidArgument), commName (used in log lines).
 * The remaining fields tune GPU kernels and are accepted and ignored. */
typedef struct ncclConfig_v22800 {
  size_t size;
  unsigned int magic;
  unsigned int version;
  int blocking;
  int cgaClusterSize;
  int minCTAs;
  int maxCTAs;
  const char* netName;
  int splitShare;
  int trafficClass;
  const char* commName;
  int collnetEnable;
  int CTAPolicy;
  int shrinkShare;
  int nvlsCTAs;
  int nChannelsPerNetPeer;
  int nvlinkCentricSched;
} ncclConfig_t;

#define NCCL_CONFIG_INITIALIZER                                                               \
  {                                                                                           \
    sizeof(ncclConfig_t), 0xcafebeef, NCCL_VERSION(NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH),       \
        NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT,                  \
        NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_PTR, NCCL_CONFIG_UNDEF_INT,                  \
        NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_PTR, NCCL_CONFIG_UNDEF_INT,                  \
        NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT,                  \
        NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT                                          \
  }

typedef struct ncclSimInfo_v22200 {
  size_t size;
  unsigned int magic;
  unsigned int version;
  float estimatedTime;
} ncclSimInfo_t;

#define NCCL_SIM_INFO_INITIALIZER \
  { sizeof(ncclSimInfo_t), 0x74685283, NCCL_VERSION(NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH), NCCL_UNDEF_FLOAT }

typedef enum { ncclNumOps_dummy = 5 } ncclRedOp_dummy_t;
typedef enum {
  ncclSum = 0,
  ncclProd = 1,
  ncclMax = 2,
  ncclMin = 3,
  ncclAvg = 4,
  ncclNumOps = 5,
  ncclMaxRedOp = 0x7fffffff >> (32 - 8 * sizeof(ncclRedOp_dummy_t))
} ncclRedOp_t;

typedef enum {
  ncclInt8 = 0,
  ncclChar = 0,
  ncclUint8 = 1,
  ncclInt32 = 2,
  ncclInt = 2,
  ncclUint32 = 3,
  ncclInt64 = 4,
  ncclUint64 = 5,
  ncclFloat16 = 6,
  ncclHalf = 6,
  ncclFloat32 = 7,
  ncclFloat = 7,
  ncclFloat64 = 8,
  ncclDouble = 8,
  ncclBfloat16 = 9,
  ncclFloat8e4m3 = 10,
  ncclFloat8e5m2 = 11,
  ncclNumTypes = 12
} ncclDataType_t;

typedef enum { ncclScalarDevice = 0, ncclScalarHostImmediate = 1 } ncclScalarResidence_t;

/* Each entry point exists twice, as in NCCL: ncclX and the profiling alias pncclX. */
#define PLEXUS_NCCL_DECL(ret, name, args) \
  PLEXUS_API ret name args;               \
  PLEXUS_API ret p##name args;

/* Memory: page-aligned host memory shared with local peers where possible. */
PLEXUS_NCCL_DECL(ncclResult_t, ncclMemAlloc, (void** ptr, size_t size))
PLEXUS_NCCL_DECL(ncclResult_t, ncclMemFree, (void* ptr))

PLEXUS_NCCL_DECL(ncclResult_t, ncclGetVersion, (int* version))
PLEXUS_NCCL_DECL(ncclResult_t, ncclGetUniqueId, (ncclUniqueId * uniqueId))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommInitRankConfig,
                 (ncclComm_t * comm, int nranks, ncclUniqueId commId, int rank,
                  ncclConfig_t* config))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommInitRank,
                 (ncclComm_t * comm, int nranks, ncclUniqueId commId, int rank))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommInitAll, (ncclComm_t * comm, int ndev, const int* devlist))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommInitRankScalable,
                 (ncclComm_t * newcomm, int nranks, int myrank, int nId, ncclUniqueId* commIds,
                  ncclConfig_t* config))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommFinalize, (ncclComm_t comm))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommDestroy, (ncclComm_t comm))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommAbort, (ncclComm_t comm))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommRevoke, (ncclComm_t comm, int revokeFlags))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommSplit,
                 (ncclComm_t comm, int color, int key, ncclComm_t* newcomm, ncclConfig_t* config))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommShrink,
                 (ncclComm_t comm, int* excludeRanksList, int excludeRanksCount,
                  ncclComm_t* newcomm, ncclConfig_t* config, int shrinkFlags))

/* Growing a communicator (NCCL 2.29). ncclCommGetUniqueId, on one existing rank, makes the id that
 * the new ranks join with. ncclCommGrow is collective over the existing ranks (comm, rank = -1;
 * uniqueId = &id on the rank that made it, NULL on the others) and the new ranks (comm = NULL,
 * uniqueId = &id, rank = their rank in [size of comm, nRanks)). Existing ranks keep their ranks. */
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommGetUniqueId, (ncclComm_t comm, ncclUniqueId* uniqueId))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommGrow,
                 (ncclComm_t comm, int nRanks, const ncclUniqueId* uniqueId, int rank,
                  ncclComm_t* newcomm, ncclConfig_t* config))

/* Suspend / resume (NCCL 2.29). NCCL releases dynamic GPU memory (NCCL_SUSPEND_MEM); Plexus waits
 * for the communicator's queued work and marks it suspended (it holds no GPU memory of its own to
 * release yet); ncclCommResume clears the mark. */
#define NCCL_SUSPEND_MEM 0x01
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommSuspend, (ncclComm_t comm, int flags))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommResume, (ncclComm_t comm))

typedef enum {
  ncclStatGpuMemSuspend = 0,   /* GPU memory that suspend can release (bytes) */
  ncclStatGpuMemSuspended = 1, /* 1 while suspended, else 0 */
  ncclStatGpuMemPersist = 2,   /* GPU memory that suspend cannot release (bytes) */
  ncclStatGpuMemTotal = 3      /* all GPU memory held by the communicator (bytes) */
} ncclCommMemStat_t;
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommMemStats,
                 (ncclComm_t comm, ncclCommMemStat_t stat, uint64_t* value))

PLEXUS_NCCL_DECL(const char*, ncclGetErrorString, (ncclResult_t result))
PLEXUS_NCCL_DECL(const char*, ncclGetLastError, (ncclComm_t comm))
PLEXUS_API void ncclResetDebugInit(void);
PLEXUS_API void pncclResetDebugInit(void);

PLEXUS_NCCL_DECL(ncclResult_t, ncclCommGetAsyncError, (ncclComm_t comm, ncclResult_t * asyncError))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommCount, (const ncclComm_t comm, int* count))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommCuDevice, (const ncclComm_t comm, int* device))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommUserRank, (const ncclComm_t comm, int* rank))

PLEXUS_NCCL_DECL(ncclResult_t, ncclCommRegister,
                 (const ncclComm_t comm, void* buff, size_t size, void** handle))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommDeregister, (const ncclComm_t comm, void* handle))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommWindowRegister,
                 (ncclComm_t comm, void* buff, size_t size, ncclWindow_t* win, int winFlags))
PLEXUS_NCCL_DECL(ncclResult_t, ncclCommWindowDeregister, (ncclComm_t comm, ncclWindow_t win))

PLEXUS_NCCL_DECL(ncclResult_t, ncclWinGetUserPtr,
                 (ncclComm_t comm, ncclWindow_t win, void** outUserPtr))

/* NCCL's device API (nccl_device.h): opaque here. Plexus does not support it yet: these calls
 * check their arguments and return ncclInvalidUsage. */
struct ncclDevComm;
typedef struct ncclDevComm ncclDevComm_t;
struct ncclDevCommRequirements;
typedef struct ncclDevCommRequirements ncclDevCommRequirements_t;
PLEXUS_NCCL_DECL(ncclResult_t, ncclDevCommCreate,
                 (ncclComm_t comm, ncclDevCommRequirements_t const* reqs,
                  ncclDevComm_t* outDevComm))
PLEXUS_NCCL_DECL(ncclResult_t, ncclDevCommDestroy, (ncclComm_t comm, ncclDevComm_t const* devComm))
PLEXUS_NCCL_DECL(ncclResult_t, ncclGetLsaMultimemDevicePointer,
                 (ncclWindow_t window, size_t offset, void** outPtr))
PLEXUS_NCCL_DECL(ncclResult_t, ncclGetPeerDevicePointer,
                 (ncclWindow_t window, size_t offset, int peer, void** outPtr))

PLEXUS_NCCL_DECL(ncclResult_t, ncclRedOpCreatePreMulSum,
                 (ncclRedOp_t * op, void* scalar, ncclDataType_t datatype,
                  ncclScalarResidence_t residence, ncclComm_t comm))
PLEXUS_NCCL_DECL(ncclResult_t, ncclRedOpDestroy, (ncclRedOp_t op, ncclComm_t comm))

PLEXUS_NCCL_DECL(ncclResult_t, ncclReduce,
                 (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                  ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclBcast,
                 (void* buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                  cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclBroadcast,
                 (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                  int root, ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclAllReduce,
                 (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                  ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclReduceScatter,
                 (const void* sendbuff, void* recvbuff, size_t recvcount, ncclDataType_t datatype,
                  ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclAllGather,
                 (const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype,
                  ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclAlltoAll,
                 (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                  ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclGather,
                 (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                  int root, ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclScatter,
                 (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                  int root, ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclSend,
                 (const void* sendbuff, size_t count, ncclDataType_t datatype, int peer,
                  ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclRecv,
                 (void* recvbuff, size_t count, ncclDataType_t datatype, int peer,
                  ncclComm_t comm, cudaStream_t stream))

/* One-sided operations (NCCL 2.29/2.30): not supported by Plexus yet; they check their arguments
 * and return ncclInvalidUsage. */
typedef struct {
  int opCnt;  /* number of signal operations to wait for */
  int peer;   /* the rank they come from */
  int sigIdx; /* signal index */
  int ctx;    /* context */
} ncclWaitSignalDesc_t;
PLEXUS_NCCL_DECL(ncclResult_t, ncclPutSignal,
                 (const void* localbuff, size_t count, ncclDataType_t datatype, int peer,
                  ncclWindow_t peerWin, size_t peerWinOffset, int sigIdx, int ctx,
                  unsigned int flags, ncclComm_t comm, cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclSignal,
                 (int peer, int sigIdx, int ctx, unsigned int flags, ncclComm_t comm,
                  cudaStream_t stream))
PLEXUS_NCCL_DECL(ncclResult_t, ncclWaitSignal,
                 (int nDesc, ncclWaitSignalDesc_t* signalDescs, ncclComm_t comm,
                  cudaStream_t stream))

PLEXUS_NCCL_DECL(ncclResult_t, ncclGroupStart, (void))
PLEXUS_NCCL_DECL(ncclResult_t, ncclGroupEnd, (void))
PLEXUS_NCCL_DECL(ncclResult_t, ncclGroupSimulateEnd, (ncclSimInfo_t * simInfo))

#undef PLEXUS_NCCL_DECL

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NCCL_H_ */
