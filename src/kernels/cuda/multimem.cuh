// Inline-PTX wrappers for NVLink SHARP (NVLS) multicast memory: multimem.ld_reduce loads the same
// 16 bytes from every GPU bound to a multicast object and returns their sum (the switch reduces);
// multimem.st writes 16 bytes to all of them. For the nvls device executor. Header-only.
//
//  - Addresses are multicast (multimem) addresses, 16-byte aligned; any other access to them
//    (ld, st, atomics) is undefined behaviour.
//  - Memory order: relaxed at system scope. Callers order them with fences / flags of their own.
//  - The instructions exist on sm_90 and newer. For older targets the wrappers compile to a trap,
//    so one .cu file builds for every architecture and the host chooses at run time
//    (multicast support is a device attribute) whether to launch code that calls them.
//  - Results are the switch's sums, in its order and rounding: they are not bit-equal to the
//    pairwise host reductions. f16/bf16 accumulate in f32 (.acc::f32) and round once.
#pragma once

#include <cstdint>

namespace plexus::kernels::cuda {

// The element types the wrappers reduce (sum only).
enum class MultimemType : uint8_t { kF32, kF16, kBf16 };

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define PLEXUS_MULTIMEM_PTX 1  // the wrappers below emit multimem instructions
#endif

// 16 bytes at mcAddr reduced over every GPU of the multicast object (4 f32, or 8 f16 / bf16).
template <MultimemType kType>
__device__ inline uint4 multimemLoadReduceSum(const void* mcAddr) {
  uint4 v{};
#if defined(PLEXUS_MULTIMEM_PTX)
  if constexpr (kType == MultimemType::kF32) {
    asm volatile("multimem.ld_reduce.relaxed.sys.global.add.v4.f32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(mcAddr)
                 : "memory");
  } else if constexpr (kType == MultimemType::kF16) {
    asm volatile(
        "multimem.ld_reduce.relaxed.sys.global.add.acc::f32.v4.f16x2 {%0, %1, %2, %3}, [%4];"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
        : "l"(mcAddr)
        : "memory");
  } else {
    asm volatile(
        "multimem.ld_reduce.relaxed.sys.global.add.acc::f32.v4.bf16x2 {%0, %1, %2, %3}, [%4];"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
        : "l"(mcAddr)
        : "memory");
  }
#else
  (void)mcAddr;
  __trap();
#endif
  return v;
}

// Writes 16 bytes (any element type: the store moves bits) to mcAddr on every GPU of the
// multicast object.
__device__ inline void multimemStore(void* mcAddr, uint4 v) {
#if defined(PLEXUS_MULTIMEM_PTX)
  asm volatile("multimem.st.relaxed.sys.global.v4.f32 [%0], {%1, %2, %3, %4};"
               :
               : "l"(mcAddr), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w)
               : "memory");
#else
  (void)mcAddr;
  (void)v;
  __trap();
#endif
}

// Cooperative over the calling block, like reduceBlock: for the 16-byte vectors i < vectors,
// dstMc[i] = sum over GPUs of srcMc[i], stored to every GPU. Both are multicast addresses
// (they may be the same one: the in-place all-reduce).
template <MultimemType kType>
__device__ inline void multimemAllReduceSumBlock(void* dstMc, const void* srcMc, uint64_t vectors) {
  const uint64_t tid =
      threadIdx.x + uint64_t(blockDim.x) * (threadIdx.y + uint64_t(blockDim.y) * threadIdx.z);
  const uint64_t step = uint64_t(blockDim.x) * blockDim.y * blockDim.z;
  auto* dst = static_cast<uint4*>(dstMc);
  const auto* src = static_cast<const uint4*>(srcMc);
  for (uint64_t i = tid; i < vectors; i += step) {
    multimemStore(dst + i, multimemLoadReduceSum<kType>(src + i));
  }
}

}  // namespace plexus::kernels::cuda
