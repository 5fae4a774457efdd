// Device reductions for every datatype and operation, cooperative over one thread block. The
// element operations and codecs are the host's (kernels/reduce_ops.hpp), so results equal the host
// kernels (kernels/reduce.hpp) bit for bit, NaN payloads aside. Header-only: every function is
// inline, so a .cu file of any layer that sees "kernels/..." can use it without relocatable
// device code. Compile without -ftz=true / --use_fast_math (subnormals are values here).
//
// Pointers must be aligned to their element size (any alignment beyond that is handled). The
// work of one thread (detail::, given its index and the thread count) is __host__ __device__ so
// that tests can run a whole block's share of it on the host, thread after thread.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/reduce_ops.hpp"
#include "plexus/types.hpp"

// #pragma unroll for the device pass only (the host compiler warns about a pragma it does not
// know).
#if defined(__CUDA_ARCH__)
#define PLEXUS_DEVICE_UNROLL _Pragma("unroll")
#else
#define PLEXUS_DEVICE_UNROLL
#endif

namespace plexus::kernels::cuda {

namespace detail {

// One thread's place in the block: thread `index` of `count` takes elements index, index + count,
// ... (or vectors, for the bulk).
struct Threads {
  uint64_t index;
  uint64_t count;
};

__device__ inline Threads blockThreads() {
  return {threadIdx.x + uint64_t(blockDim.x) * (threadIdx.y + uint64_t(blockDim.y) * threadIdx.z),
          uint64_t(blockDim.x) * blockDim.y * blockDim.z};
}

// 16 bytes of elements, the unit of the vector loads.
template <class S>
struct Lanes {
  S e[16 / sizeof(S)];
};

// d[i] = f(x[i], y[i]) for i < n (y = x when unary), this thread's share. Where d, x (and y) sit
// at the same offset from 16-byte alignment the bulk moves as uint4, kUnroll loads in flight per
// thread; the few elements before the first and after the last full vector, and everything when
// the offsets differ, go one element at a time. Each element is read and written by one thread.
template <bool kBinary, class S, class F>
__host__ __device__ inline void elementwise(Threads t, S* d, const S* x, const S* y, uint64_t n,
                                            F f) {
  constexpr uint64_t kLanes = 16 / sizeof(S);
  // Loads in flight per thread: 16 elements (8 for double). Narrow types convert every lane, so
  // more unrolling buys nothing but compile time.
  constexpr int kUnroll = sizeof(S) < 4 ? int(sizeof(S)) : 4;
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
  for (uint64_t k = t.index; k < scalars; k += t.count) {
    const uint64_t i = k < head ? k : tailStart + (k - head);
    d[i] = f(x[i], kBinary ? y[i] : x[i]);
  }
  auto* dv = reinterpret_cast<uint4*>(d + head);
  const auto* xv = reinterpret_cast<const uint4*>(x + head);
  const auto* yv = reinterpret_cast<const uint4*>((kBinary ? y : x) + head);
  for (uint64_t base = t.index; base < vectors; base += t.count * kUnroll) {
    uint4 xs[kUnroll];
    uint4 ys[kUnroll];
    PLEXUS_DEVICE_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const uint64_t v = base + u * t.count;
      if (v < vectors) {
        xs[u] = xv[v];
        if constexpr (kBinary) ys[u] = yv[v];
      }
    }
    PLEXUS_DEVICE_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const uint64_t v = base + u * t.count;
      if (v >= vectors) break;
      Lanes<S> p = bitCast<Lanes<S>>(xs[u]);
      const Lanes<S> q = kBinary ? bitCast<Lanes<S>>(ys[u]) : p;
      PLEXUS_DEVICE_UNROLL
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
__host__ __device__ inline typename Codec::Storage divideElement(typename Codec::Storage v,
                                                                 int divisor) {
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
__host__ __device__ inline void reduceLoop(Threads t, void* dst, const void* a, const void* b,
                                           uint64_t n, int avgDivisor) {
  using S = typename Codec::Storage;
  auto* d = static_cast<S*>(dst);
  const auto* x = static_cast<const S*>(a);
  const auto* y = static_cast<const S*>(b);
  if (avgDivisor <= 1) {  // finalizeAverage over 1 rank is a copy (no fp8 saturation of inf)
    elementwise<true>(t, d, x, y, n, [](S p, S q) { return ops::reduceElement<Codec, Op>(p, q); });
  } else if constexpr (kIsSum<Op>) {
    elementwise<true>(t, d, x, y, n, [avgDivisor](S p, S q) {
      return divideElement<Codec>(ops::reduceElement<Codec, Op>(p, q), avgDivisor);
    });
  } else {
    for (uint64_t i = t.index; i < n; i += t.count) {
      d[i] = divideElement<Codec>(ops::reduceElement<Codec, Op>(x[i], y[i]), avgDivisor);
    }
  }
}

template <class Codec>
__host__ __device__ inline void divideLoop(Threads t, void* dst, const void* src, uint64_t n,
                                           int divisor) {
  using S = typename Codec::Storage;
  auto* d = static_cast<S*>(dst);
  const auto* x = static_cast<const S*>(src);
  if (divisor <= 1) {  // like finalizeAverage: a copy, values untouched
    if (d != x) elementwise<false>(t, d, x, x, n, [](S p, S) { return p; });
  } else {
    elementwise<false>(t, d, x, x, n,
                       [divisor](S p, S) { return divideElement<Codec>(p, divisor); });
  }
}

template <class Codec>
__host__ __device__ inline void reduceOps(Threads t, RedOp op, void* dst, const void* a,
                                          const void* b, uint64_t n, int avgDivisor) {
  using V = typename Codec::Value;
  if constexpr (std::is_integral_v<V>) {
    switch (op) {
      case RedOp::kProd:
        return reduceLoop<Codec, ops::IntProd<V>>(t, dst, a, b, n, avgDivisor);
      case RedOp::kMax:
        return reduceLoop<Codec, ops::IntMax<V>>(t, dst, a, b, n, avgDivisor);
      case RedOp::kMin:
        return reduceLoop<Codec, ops::IntMin<V>>(t, dst, a, b, n, avgDivisor);
      default:
        return reduceLoop<Codec, ops::IntSum<V>>(t, dst, a, b, n, avgDivisor);
    }
  } else {
    switch (op) {
      case RedOp::kProd:
        return reduceLoop<Codec, ops::FpProd<V>>(t, dst, a, b, n, avgDivisor);
      case RedOp::kMax:
        return reduceLoop<Codec, ops::FpMax<V>>(t, dst, a, b, n, avgDivisor);
      case RedOp::kMin:
        return reduceLoop<Codec, ops::FpMin<V>>(t, dst, a, b, n, avgDivisor);
      default:
        return reduceLoop<Codec, ops::FpSum<V>>(t, dst, a, b, n, avgDivisor);
    }
  }
}

// Calls f(Codec{}) with the codec of `type`.
template <class F>
__host__ __device__ inline void withCodec(DataType type, F&& f) {
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

// One thread's share of reduceBlock, divideBlock and copyBlock.
__host__ __device__ inline void reduceShare(Threads t, DataType type, RedOp op, void* dst,
                                            const void* a, const void* b, uint64_t n,
                                            int avgDivisor) {
  withCodec(type, [&](auto codec) { reduceOps<decltype(codec)>(t, op, dst, a, b, n, avgDivisor); });
}

__host__ __device__ inline void divideShare(Threads t, DataType type, void* dst, const void* src,
                                            uint64_t n, int divisor) {
  withCodec(type, [&](auto codec) { divideLoop<decltype(codec)>(t, dst, src, n, divisor); });
}

// Copies with words of W bytes (uint4, uint2, unsigned, unsigned short): bytes one at a time up
// to the first W-aligned byte of d (s is equally aligned), whole words, then the last bytes.
template <class W>
__host__ __device__ inline void copyWords(Threads t, unsigned char* d, const unsigned char* s,
                                          uint64_t bytes) {
  constexpr uint64_t kW = sizeof(W);
  uint64_t head = (kW - (reinterpret_cast<uintptr_t>(d) & (kW - 1))) & (kW - 1);
  if (head > bytes) head = bytes;
  const uint64_t words = (bytes - head) / kW;
  for (uint64_t i = t.index; i < head; i += t.count) d[i] = s[i];
  auto* dw = reinterpret_cast<W*>(d + head);
  const auto* sw = reinterpret_cast<const W*>(s + head);
  for (uint64_t i = t.index; i < words; i += t.count) dw[i] = sw[i];
  for (uint64_t i = head + words * kW + t.index; i < bytes; i += t.count) d[i] = s[i];
}

__host__ __device__ inline void copyShare(Threads t, void* dst, const void* src, uint64_t bytes) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  // The widest word that both pointers can reach at the same byte.
  const uintptr_t apart = reinterpret_cast<uintptr_t>(d) ^ reinterpret_cast<uintptr_t>(s);
  if ((apart & 15u) == 0) return copyWords<uint4>(t, d, s, bytes);
  if ((apart & 7u) == 0) return copyWords<uint2>(t, d, s, bytes);
  if ((apart & 3u) == 0) return copyWords<unsigned>(t, d, s, bytes);
  if ((apart & 1u) == 0) return copyWords<unsigned short>(t, d, s, bytes);
  copyWords<unsigned char>(t, d, s, bytes);
}

}  // namespace detail

// Cooperative over the calling thread block: every thread of the block calls it with the same
// arguments; it does not synchronise the block (callers __syncthreads() around it as needed).
// dst[i] = a[i] (op) b[i] for i < n elements of `type`; when avgDivisor > 0 the stored value is
// then divided by avgDivisor (the AVG finalize; 1 leaves it as it is, like finalizeAverage). dst
// may alias a or b exactly.
__device__ inline void reduceBlock(DataType type, RedOp op, void* dst, const void* a, const void* b,
                                   uint64_t n, int avgDivisor) {
  detail::reduceShare(detail::blockThreads(), type, op, dst, a, b, n, avgDivisor);
}

// dst[i] = src[i] / divisor (AVG finalize of a stored value), same semantics as the host's
// finalizeAverage (divisor 1 copies). dst may alias src exactly.
__device__ inline void divideBlock(DataType type, void* dst, const void* src, uint64_t n,
                                   int divisor) {
  detail::divideShare(detail::blockThreads(), type, dst, src, n, divisor);
}

// Byte copy, 16-byte vector loads/stores where both pointers are 16-byte aligned (or equally
// misaligned: the bytes up to the first 16-byte boundary go one at a time); where they are not,
// the widest words (8, 4, 2 bytes) their distance allows. dst and src must not overlap.
__device__ inline void copyBlock(void* dst, const void* src, uint64_t bytes) {
  detail::copyShare(detail::blockThreads(), dst, src, bytes);
}

}  // namespace plexus::kernels::cuda
