/* Records the layout and constants of whichever nccl.h was included before it, into a table the
 * ABI test compares between Plexus's header and NVIDIA's. */
#ifndef PLEXUS_ABI_LAYOUT_H
#define PLEXUS_ABI_LAYOUT_H

#include <stddef.h>

#define PLEXUS_ABI_ENTRIES(X)                                              \
  X(sizeof(ncclUniqueId)) X(NCCL_UNIQUE_ID_BYTES) X(sizeof(ncclConfig_t))  \
  X(offsetof(ncclConfig_t, size)) X(offsetof(ncclConfig_t, magic))         \
  X(offsetof(ncclConfig_t, version)) X(offsetof(ncclConfig_t, blocking))   \
  X(offsetof(ncclConfig_t, cgaClusterSize)) X(offsetof(ncclConfig_t, minCTAs)) \
  X(offsetof(ncclConfig_t, maxCTAs)) X(offsetof(ncclConfig_t, netName))    \
  X(offsetof(ncclConfig_t, splitShare)) X(offsetof(ncclConfig_t, trafficClass)) \
  X(offsetof(ncclConfig_t, commName)) X(offsetof(ncclConfig_t, collnetEnable)) \
  X(offsetof(ncclConfig_t, CTAPolicy)) X(offsetof(ncclConfig_t, shrinkShare)) \
  X(offsetof(ncclConfig_t, nvlsCTAs)) X(offsetof(ncclConfig_t, nChannelsPerNetPeer)) \
  X(offsetof(ncclConfig_t, nvlinkCentricSched)) X(sizeof(ncclSimInfo_t))   \
  X(sizeof(ncclResult_t)) X(sizeof(ncclRedOp_t)) X(sizeof(ncclDataType_t)) \
  X(ncclSuccess) X(ncclUnhandledCudaError) X(ncclSystemError) X(ncclInternalError) \
  X(ncclInvalidArgument) X(ncclInvalidUsage) X(ncclRemoteError) X(ncclInProgress) \
  X(ncclNumResults) X(ncclSum) X(ncclProd) X(ncclMax) X(ncclMin) X(ncclAvg) X(ncclNumOps) \
  X(ncclMaxRedOp) X(ncclInt8) X(ncclChar) X(ncclUint8) X(ncclInt32) X(ncclInt) X(ncclUint32) \
  X(ncclInt64) X(ncclUint64) X(ncclFloat16) X(ncclHalf) X(ncclFloat32) X(ncclFloat) \
  X(ncclFloat64) X(ncclDouble) X(ncclBfloat16) X(ncclFloat8e4m3) X(ncclFloat8e5m2) \
  X(ncclNumTypes) X(ncclScalarDevice) X(ncclScalarHostImmediate) X(NCCL_MAJOR) X(NCCL_MINOR) \
  X(NCCL_PATCH) X(NCCL_VERSION_CODE) X(NCCL_VERSION(2, 28, 9)) X(NCCL_VERSION(2, 8, 4))      \
  X(NCCL_CONFIG_UNDEF_INT) X(NCCL_SPLIT_NOCOLOR) X(NCCL_WIN_DEFAULT) X(NCCL_WIN_COLL_SYMMETRIC) \
  X(NCCL_WIN_REQUIRED_ALIGNMENT) X(NCCL_CTA_POLICY_DEFAULT) X(NCCL_CTA_POLICY_EFFICIENCY) \
  X(NCCL_CTA_POLICY_ZERO) X(NCCL_SHRINK_DEFAULT) X(NCCL_SHRINK_ABORT) X(NCCL_REVOKE_DEFAULT)

#endif
