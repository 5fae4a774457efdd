// The CUDA runtime as the rest of Plexus sees it: whether a device is usable (asked once), why not,
// and the few driver entry points the staged device path needs (stream memory operations and
// pointer range queries), looked up at run time with cudaGetDriverEntryPointByVersion (libcuda is
// never linked). Without PLEXUS_HAVE_CUDA every function is a stub: usable() is false and says
// "built without CUDA". This header names no CUDA type, so any layer may include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "plexus/types.hpp"

namespace plexus::cuda {

// ncclUnhandledCudaError: a CUDA call failed.
inline constexpr ErrorCode kCudaError = static_cast<ErrorCode>(1);

// True when this build has CUDA and the process sees at least one device. Decided on the first
// call (thread-safe) and cached: later calls are one atomic load.
bool usable();
// Why usable() is false: "built without CUDA", "no NVIDIA driver (libcuda.so.1 not found)", "no
// CUDA device", or the CUDA error; "" when usable.
const std::string& unusableReason();

// Allocation range of a CUDA-known pointer (device, managed or registered/pinned host memory), by
// cuPointerGetAttribute(RANGE_START_ADDR / RANGE_SIZE). False when the driver does not know it.
bool pointerRange(const void* p, uintptr_t* start, size_t* size);

// Stream memory operations (cuStreamWriteValue64 / cuStreamWaitValue64 with GEQ), enqueued on
// `stream` (a cudaStream_t). `flag` is host memory from cudaHostAlloc(cudaHostAllocMapped).
// Throw Error(kCudaError) naming the call when the driver refuses.
void streamWriteValue64(void* stream, uint64_t* flag, uint64_t value);
void streamWaitValue64(void* stream, uint64_t* flag, uint64_t value);

// Throws Error(kCudaError) "<what>: <cuda error name>: <string>" when `status` (a cudaError_t)
// is not cudaSuccess.
void check(int status, const char* what);

}  // namespace plexus::cuda
