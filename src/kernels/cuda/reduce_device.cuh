// Device reductions for every datatype and operation, cooperative over one thread block. The
// element operations and codecs are the host's (kernels/reduce_ops.hpp), so results equal the host
// kernels (kernels/reduce.hpp) bit for bit, NaN payloads aside. Header-only: every function is
// inline, so a .cu file of any layer that sees "kernels/..." can use it without relocatable
// device code. Compile without -ftz=true / --use_fast_math.
//
// Pointers must be aligned to their element size (any alignment beyond that is handled).
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/reduce_ops.hpp"
#include "plexus/types.hpp"

namespace plexus::kernels::cuda {

namespace detail {

__device__ inline uint64_t blockThread() {
  return threadIdx.x + uint64_t(blockDim.x) * (threadIdx.y + uint64_t(blockDim.y) * threadIdx.z);
}
__device__ inline uint64_t blockThreads() {
  return uint64_t(blockDim.x) * blockDim.y * blockDim.z;
}

template <class Codec, class Op>
__device__ inline void reduceLoop(void* dst, const void* a, const void* b, uint64_t n,
                                  int avgDivisor) {
  using S = typename Codec::Storage;
  S* d = static_cast<S*>(dst);
  const S* x = static_cast<const S*>(a);
  const S* y = static_cast<const S*>(b);
  const uint64_t step = blockThreads();
  for (uint64_t i = blockThread(); i < n; i += step) {
    S v = ops::reduceElement<Codec, Op>(x[i], y[i]);
    if (avgDivisor > 0) {
      if constexpr (std::is_integral_v<typename Codec::Value>) {
        v = ops::divideIntElement<S>(v, avgDivisor);
      } else {
        v = ops::divideFpElement<Codec>(v, avgDivisor);
      }
    }
    d[i] = v;
  }
}

template <class Codec>
__device__ inline void divideLoop(void* dst, const void* src, uint64_t n, int divisor) {
  using S = typename Codec::Storage;
  S* d = static_cast<S*>(dst);
  const S* s = static_cast<const S*>(src);
  const uint64_t step = blockThreads();
  for (uint64_t i = blockThread(); i < n; i += step) {
    if constexpr (std::is_integral_v<typename Codec::Value>) {
      d[i] = ops::divideIntElement<S>(s[i], divisor);
    } else {
      d[i] = ops::divideFpElement<Codec>(s[i], divisor);
    }
  }
}

template <class Codec>
__device__ inline void reduceOps(RedOp op, void* dst, const void* a, const void* b, uint64_t n,
                                 int avgDivisor) {
  using V = typename Codec::Value;
  if constexpr (std::is_integral_v<V>) {
    switch (op) {
      case RedOp::kProd:
        return reduceLoop<Codec, ops::IntProd<V>>(dst, a, b, n, avgDivisor);
      case RedOp::kMax:
        return reduceLoop<Codec, ops::IntMax<V>>(dst, a, b, n, avgDivisor);
      case RedOp::kMin:
        return reduceLoop<Codec, ops::IntMin<V>>(dst, a, b, n, avgDivisor);
      default:
        return reduceLoop<Codec, ops::IntSum<V>>(dst, a, b, n, avgDivisor);
    }
  } else {
    switch (op) {
      case RedOp::kProd:
        return reduceLoop<Codec, ops::FpProd<V>>(dst, a, b, n, avgDivisor);
      case RedOp::kMax:
        return reduceLoop<Codec, ops::FpMax<V>>(dst, a, b, n, avgDivisor);
      case RedOp::kMin:
        return reduceLoop<Codec, ops::FpMin<V>>(dst, a, b, n, avgDivisor);
      default:
        return reduceLoop<Codec, ops::FpSum<V>>(dst, a, b, n, avgDivisor);
    }
  }
}

// Calls f(Codec{}) with the codec of `type`.
template <class F>
__device__ inline void withCodec(DataType type, F&& f) {
  switch (type) {
    case DataType::kInt8:
      return f(ops::Native<int8_t>{});
    case DataType::kUint8:
      return f(ops::Native<uint8_t>{});
    case DataType::kInt32:
      return f(ops::Native<int32_t>{});
    case DataType::kUint32:
      return f(ops::Native<uint32_t>{});
    case DataType::kInt64:
      return f(ops::Native<int64_t>{});
    case DataType::kUint64:
      return f(ops::Native<uint64_t>{});
    case DataType::kFloat16:
      return f(ops::Half{});
    case DataType::kFloat32:
      return f(ops::Native<float>{});
    case DataType::kFloat64:
      return f(ops::Native<double>{});
    case DataType::kBfloat16:
      return f(ops::Bf16{});
    case DataType::kFp8E4M3:
      return f(ops::E4M3{});
    case DataType::kFp8E5M2:
      return f(ops::E5M2{});
  }
}

}  // namespace detail

// Cooperative over the calling thread block: every thread of the block calls it with the same
// arguments; it does not synchronise the block (callers __syncthreads() around it as needed).
// dst[i] = a[i] (op) b[i] for i < n elements of `type`; when avgDivisor > 0 the stored value is
// then divided by avgDivisor (the AVG finalize). dst may alias a or b exactly.
__device__ inline void reduceBlock(DataType type, RedOp op, void* dst, const void* a, const void* b,
                                   uint64_t n, int avgDivisor) {
  detail::withCodec(
      type, [&](auto codec) { detail::reduceOps<decltype(codec)>(op, dst, a, b, n, avgDivisor); });
}

// dst[i] = src[i] / divisor (AVG finalize of a stored value), same semantics as the host's
// finalizeAverage. dst may alias src exactly.
__device__ inline void divideBlock(DataType type, void* dst, const void* src, uint64_t n,
                                   int divisor) {
  detail::withCodec(type,
                    [&](auto codec) { detail::divideLoop<decltype(codec)>(dst, src, n, divisor); });
}

// Byte copy, 16-byte vector loads/stores where both pointers are 16-byte aligned.
__device__ inline void copyBlock(void* dst, const void* src, uint64_t bytes) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  const uint64_t tid = detail::blockThread();
  const uint64_t step = detail::blockThreads();
  uint64_t head = 0;
  uint64_t vectors = 0;
  if (((reinterpret_cast<uintptr_t>(d) ^ reinterpret_cast<uintptr_t>(s)) & 15u) == 0) {
    head = (16u - (reinterpret_cast<uintptr_t>(d) & 15u)) & 15u;
    if (head > bytes) head = bytes;
    vectors = (bytes - head) / 16u;
  } else {
    head = bytes;
  }
  for (uint64_t i = tid; i < head; i += step) d[i] = s[i];
  auto* dv = reinterpret_cast<uint4*>(d + head);
  const auto* sv = reinterpret_cast<const uint4*>(s + head);
  for (uint64_t i = tid; i < vectors; i += step) dv[i] = sv[i];
  for (uint64_t i = head + vectors * 16u + tid; i < bytes; i += step) d[i] = s[i];
}

}  // namespace plexus::kernels::cuda
