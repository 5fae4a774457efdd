// cuMemGetHandleForAddressRange through a run-time driver entry point (see cuda_dmabuf.hpp).
#include "transports/common/cuda_dmabuf.hpp"

#include <unistd.h>

#include "base/error.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime_api.h>
#endif

namespace plexus::transport {

AlignedRange alignToPages(uintptr_t ptr, size_t size, size_t pageSize) {
  AlignedRange r;
  r.base = ptr & ~(static_cast<uintptr_t>(pageSize) - 1);
  uintptr_t end = (ptr + size + pageSize - 1) & ~(static_cast<uintptr_t>(pageSize) - 1);
  r.length = end - r.base;
  r.offset = ptr - r.base;
  return r;
}

#if PLEXUS_HAVE_CUDA

namespace {

// The driver's cuMemGetHandleForAddressRange (CUDA 11.7 ABI), or nullptr with the reason.
PFN_cuMemGetHandleForAddressRange_v11070 handleForRange(std::string* why) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
  cudaError_t e = cudaGetDriverEntryPointByVersion("cuMemGetHandleForAddressRange", &fn, 11070,
                                                   cudaEnableDefault, &status);
  if (e != cudaSuccess || status != cudaDriverEntryPointSuccess || fn == nullptr) {
    *why = formatString(
        "the CUDA driver offers no cuMemGetHandleForAddressRange (%s; entry point status %d): no "
        "driver, or one older than CUDA 11.7",
        e != cudaSuccess ? cudaGetErrorString(e) : "not found", static_cast<int>(status));
    return nullptr;
  }
  return reinterpret_cast<PFN_cuMemGetHandleForAddressRange_v11070>(fn);
}

}  // namespace

bool cudaDmabufRange(const void* ptr, size_t size, DmabufRange* out, std::string* why) {
  auto fn = handleForRange(why);
  if (fn == nullptr) return false;
  long page = sysconf(_SC_PAGESIZE);
  AlignedRange r = alignToPages(reinterpret_cast<uintptr_t>(ptr), size,
                                static_cast<size_t>(page > 0 ? page : 4096));
  int fd = -1;
  CUresult rc =
      fn(&fd, static_cast<CUdeviceptr>(r.base), r.length, CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD, 0);
  if (rc != CUDA_SUCCESS || fd < 0) {
    *why = formatString(
        "cuMemGetHandleForAddressRange(%p, %zu bytes, DMA_BUF_FD) failed with CUresult %d: the "
        "memory may not be device memory of one allocation, or the device or driver lacks "
        "dma-buf support (CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED; open kernel module, Linux >= "
        "5.12)",
        reinterpret_cast<void*>(r.base), r.length, static_cast<int>(rc));
    return false;
  }
  out->fd = Fd(fd);
  out->offset = r.offset;
  return true;
}

#else

bool cudaDmabufRange(const void*, size_t, DmabufRange*, std::string* why) {
  *why = "Plexus was built without CUDA (-DPLEXUS_CUDA=OFF): no dma-buf for device memory";
  return false;
}

#endif

}  // namespace plexus::transport
