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

// 16 bytes of elements, the unit of the vector loads.
template <class S>
struct Lanes {
  S e[16 / sizeof(S)];
};

// d[i] = f(x[i], y[i]) for i < n (y = x when unary), spread over the block. Where d, x (and y)
// sit at the same offset from 16-byte alignment the bulk moves as uint4, kUnroll loads in flight
// per thread; the few elements before the first and after the last full vector, and everything
// when the offsets differ, go one element at a time.
template <bool kBinary, class S, class F>
__device__ inline void elementwise(S* d, const S* x, const S* y, uint64_t n, F f) {
  constexpr uint64_t kLanes = 16 / sizeof(S);
  // Loads in flight per thread: 16 elements (8 for double). Narrow types convert every lane, so
  // more unrolling buys nothing but compile time.
  constexpr int kUnroll = sizeof(S) < 4 ? int(sizeof(S)) : 4;
  const uint64_t tid = blockThread();
  const uint64_t step = blockThreads();
  const uintptr_t offset = reinterpret_cast<uintptr_t>(d) & 15u;
  const bool sameOffset = (reinterpret_cast<uintptr_t>(x) & 15u) == offset &&
                          (!kBinary || (reinterpret_cast<uintptr_t>(y) & 15u) == offset);
  uint64_t head = n;
  uint64_t vectors = 0;
  if (sameOffset) {
    head = ((16u - offset) & 15u) / sizeof(S);
    if (head > n) head = n;
    vectors = (n - head) / kLanes;
  }
  const uint64_t tailStart = head + vectors * kLanes;
  const uint64_t scalars = head + (n - tailStart);
  for (uint64_t k = tid; k < scalars; k += step) {
    const uint64_t i = k < head ? k : tailStart + (k - head);
    d[i] = f(x[i], kBinary ? y[i] : x[i]);
  }
  auto* dv = reinterpret_cast<uint4*>(d + head);
  const auto* xv = reinterpret_cast<const uint4*>(x + head);
  const auto* yv = reinterpret_cast<const uint4*>((kBinary ? y : x) + head);
  for (uint64_t base = tid; base < vectors; base += step * kUnroll) {
    uint4 xs[kUnroll];
    uint4 ys[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const uint64_t v = base + u * step;
      if (v < vectors) {
        xs[u] = xv[v];
        if constexpr (kBinary) ys[u] = yv[v];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const uint64_t v = base + u * step;
      if (v >= vectors) break;
      Lanes<S> p = bitCast<Lanes<S>>(xs[u]);
      const Lanes<S> q = kBinary ? bitCast<Lanes<S>>(ys[u]) : p;
#pragma unroll
      for (uint64_t j = 0; j < kLanes; ++j) p.e[j] = f(p.e[j], q.e[j]);
      dv[v] = bitCast<uint4>(p);
    }
  }
}

template <class Op>
inline constexpr bool kIsSum = false;
template <class T>
inline constexpr bool kIsSum<ops::IntSum<T>> = true;
template <class F>
inline constexpr bool kIsSum<ops::FpSum<F>> = true;

template <class Codec>
__device__ inline typename Codec::Storage divideElement(typename Codec::Storage v, int divisor) {
  if constexpr (std::is_integral_v<typename Codec::Value>) {
    return ops::divideIntElement<typename Codec::Storage>(v, divisor);
  } else {
    return ops::divideFpElement<Codec>(v, divisor);
  }
}

// kAvg (kSum then the division) runs vectorized; any other op with a divisor, which no collective
// asks for, runs one element at a time (it exists for the interface's sake, and costs no
// compile time this way).
template <class Codec, class Op>
__device__ inline void reduceLoop(void* dst, const void* a, const void* b, uint64_t n,
                                  int avgDivisor) {
  using S = typename Codec::Storage;
  auto* d = static_cast<S*>(dst);
  const auto* x = static_cast<const S*>(a);
  const auto* y = static_cast<const S*>(b);
  if (avgDivisor <= 0) {
    elementwise<true>(d, x, y, n, [](S p, S q) { return ops::reduceElement<Codec, Op>(p, q); });
  } else if constexpr (kIsSum<Op>) {
    elementwise<true>(d, x, y, n, [avgDivisor](S p, S q) {
      return divideElement<Codec>(ops::reduceElement<Codec, Op>(p, q), avgDivisor);
    });
  } else {
    const uint64_t step = blockThreads();
    for (uint64_t i = blockThread(); i < n; i += step) {
      d[i] = divideElement<Codec>(ops::reduceElement<Codec, Op>(x[i], y[i]), avgDivisor);
    }
  }
}

template <class Codec>
__device__ inline void divideLoop(void* dst, const void* src, uint64_t n, int divisor) {
  using S = typename Codec::Storage;
  const auto* x = static_cast<const S*>(src);
  elementwise<false>(static_cast<S*>(dst), x, x, n,
                     [divisor](S p, S) { return divideElement<Codec>(p, divisor); });
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
