// Launchers for the device reduction test: one block per call, then a synchronisation, so the
// test sees the kernel's own errors as well as the launch's.
#include "reduce_device_launch.hpp"

#include "kernels/cuda/reduce_device.cuh"

namespace plexus::kernels::cuda::test {
namespace {

__global__ void reduceKernel(DataType type, RedOp op, void* dst, const void* a, const void* b,
                             uint64_t n, int avgDivisor) {
  reduceBlock(type, op, dst, a, b, n, avgDivisor);
}

__global__ void divideKernel(DataType type, void* dst, const void* src, uint64_t n, int divisor) {
  divideBlock(type, dst, src, n, divisor);
}

__global__ void copyKernel(void* dst, const void* src, uint64_t bytes) {
  copyBlock(dst, src, bytes);
}

cudaError_t finish() {
  const cudaError_t launched = cudaGetLastError();
  if (launched != cudaSuccess) return launched;
  return cudaDeviceSynchronize();
}

}  // namespace

cudaError_t runReduceBlock(BlockShape shape, DataType type, RedOp op, void* dst, const void* a,
                           const void* b, uint64_t n, int avgDivisor) {
  reduceKernel<<<1, dim3(shape.x, shape.y)>>>(type, op, dst, a, b, n, avgDivisor);
  return finish();
}

cudaError_t runDivideBlock(BlockShape shape, DataType type, void* dst, const void* src, uint64_t n,
                           int divisor) {
  divideKernel<<<1, dim3(shape.x, shape.y)>>>(type, dst, src, n, divisor);
  return finish();
}

cudaError_t runCopyBlock(BlockShape shape, void* dst, const void* src, uint64_t bytes) {
  copyKernel<<<1, dim3(shape.x, shape.y)>>>(dst, src, bytes);
  return finish();
}

void emulateReduceBlock(BlockShape shape, DataType type, RedOp op, void* dst, const void* a,
                        const void* b, uint64_t n, int avgDivisor) {
  const uint64_t count = uint64_t(shape.x) * shape.y;
  for (uint64_t t = 0; t < count; ++t) {
    detail::reduceShare({t, count}, type, op, dst, a, b, n, avgDivisor);
  }
}

void emulateDivideBlock(BlockShape shape, DataType type, void* dst, const void* src, uint64_t n,
                        int divisor) {
  const uint64_t count = uint64_t(shape.x) * shape.y;
  for (uint64_t t = 0; t < count; ++t) detail::divideShare({t, count}, type, dst, src, n, divisor);
}

void emulateCopyBlock(BlockShape shape, void* dst, const void* src, uint64_t bytes) {
  const uint64_t count = uint64_t(shape.x) * shape.y;
  for (uint64_t t = 0; t < count; ++t) detail::copyShare({t, count}, dst, src, bytes);
}

}  // namespace plexus::kernels::cuda::test
