// Host entry points of reduce_device_launch.cu: each run* runs one function of
// kernels/cuda/reduce_device.cuh in a single thread block of shape x by y (so the block's
// flattened thread index is exercised), waits for it, and returns the CUDA status.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "plexus/types.hpp"

namespace plexus::kernels::cuda::test {

struct BlockShape {
  unsigned x;
  unsigned y;
};

cudaError_t runReduceBlock(BlockShape shape, DataType type, RedOp op, void* dst, const void* a,
                           const void* b, uint64_t n, int avgDivisor);
cudaError_t runDivideBlock(BlockShape shape, DataType type, void* dst, const void* src, uint64_t n,
                           int divisor);
cudaError_t runCopyBlock(BlockShape shape, void* dst, const void* src, uint64_t bytes);

// The same work on the host, on host memory: every thread's share of the block in turn (the
// shares are independent, so the order does not matter). Checks the indexing, the vector/scalar
// split and the dispatch here, where there is no device; the device arithmetic needs a GPU.
void emulateReduceBlock(BlockShape shape, DataType type, RedOp op, void* dst, const void* a,
                        const void* b, uint64_t n, int avgDivisor);
void emulateDivideBlock(BlockShape shape, DataType type, void* dst, const void* src, uint64_t n,
                        int divisor);
void emulateCopyBlock(BlockShape shape, void* dst, const void* src, uint64_t bytes);

}  // namespace plexus::kernels::cuda::test
