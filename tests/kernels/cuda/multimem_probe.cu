// Compile-only: kernels/cuda/multimem.cuh must build for every CUDA architecture of the build
// (multimem instructions on sm_90+, a trap below). Nothing launches this kernel; running the
// wrappers needs NVLink multicast memory (the nvls device executor's tests).
#include "kernels/cuda/multimem.cuh"

namespace plexus::kernels::cuda::test {

__global__ void multimemProbeKernel(void* dstMc, const void* srcMc, uint64_t vectors) {
  multimemAllReduceSumBlock<MultimemType::kF32>(dstMc, srcMc, vectors);
  multimemAllReduceSumBlock<MultimemType::kF16>(dstMc, srcMc, vectors);
  multimemAllReduceSumBlock<MultimemType::kBf16>(dstMc, srcMc, vectors);
}

}  // namespace plexus::kernels::cuda::test
