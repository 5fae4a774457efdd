// A dma-buf fd for a range of CUDA device memory, so that a NIC can register it (GPUDirect RDMA
// through ibv_reg_dmabuf_mr or libfabric). Uses the driver's cuMemGetHandleForAddressRange through
// an entry point looked up at run time (cudaGetDriverEntryPointByVersion): libcuda is never linked.
// Built without CUDA, or with no driver or device, it says so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/socket.hpp"

namespace plexus::transport {

struct DmabufRange {
  Fd fd;                // the dma-buf (closed with this object; a registration keeps its own ref)
  uint64_t offset = 0;  // where the requested pointer lies inside the dma-buf
};

// Host-page alignment of a device range for cuMemGetHandleForAddressRange: the aligned start and
// length that contain [ptr, ptr + size), and ptr's offset from that start.
struct AlignedRange {
  uintptr_t base = 0;
  size_t length = 0;
  uint64_t offset = 0;
};
AlignedRange alignToPages(uintptr_t ptr, size_t size, size_t pageSize);

// The dma-buf of the device allocation range containing [ptr, ptr + size). Returns false with a
// one-line reason in *why (built without CUDA; no driver; the driver or device lacks dma-buf
// support) when there is none.
bool cudaDmabufRange(const void* ptr, size_t size, DmabufRange* out, std::string* why);

}  // namespace plexus::transport
