// The one body of the SIMD reduction kernels, shared by the AVX2 and AVX-512 families: the block
// codecs that are the same on both (integers, float, double, bf16), the float operations, and
// the loops (reduce, divide, conversions to and from float) with their tail handling, written
// once as templates over a vector trait V (vec_avx2.hpp's Avx2, vec_avx512.hpp's Avx512).
//
// V provides the vector types F (float lanes), I (integer lanes) and, where the family computes
// double, D; the block types BlockF/BlockI/BlockD (four vectors each); kBytes (one vector); and
// static functions of one instruction or a fixed short sequence: loads and stores (loadAligned
// and storeAligned for float arrays aligned to one vector), splat, add, mul, div,
// greater/less/equal/isNan giving a MaskF/MaskD, select, bitAnd/bitOr, the 32-bit lane
// operations (bits, floats, splat32, add32, shiftLeft32, shiftRight32, selectOr) and the 16-bit
// packing used by bf16 (unpackLo16/Hi16, pack32To16, loadWiden16, storeNarrow16). A codec or
// operation only one family has (fp16, fp8, most integer operations) lives in that family's file
// and plugs into the same loops.
//
// Loops run over blocks of four vectors; the last partial block goes through a small zero-padded
// buffer so that tails use exactly the same code as the body. Every operation rounds on its own
// (the layer is compiled with -ffp-contract=off), so every family gives the scalar family's bits.
//
// Linkage (see reduce_kernels.hpp): include this header only from the ISA files, after their
// trait header (which refuses to compile without its ISA flags). Everything here is in an
// anonymous namespace, and every template is instantiated with that file's own trait type (also
// in an anonymous namespace), so each file's instantiations are local symbols of that file: the
// linker never sees two copies of one function that it could choose between.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/reduce_kernels.hpp"

namespace plexus::kernels {
namespace {

using u8 = unsigned char;

constexpr int kBlockVecs = 4;  // vectors per loop step

// ---------------------------------------------------------------------------------------------
// Codecs: load kElems elements from memory into a block of vectors, and store them back. Codecs
// whose reduction load/store permute elements also have loadOrdered/storeOrdered (conversions).

template <class V>
struct FloatCodec {  // computed in float; the divisor of an average is a float too
  using Blk = typename V::BlockF;
  using Scalar = float;
  static constexpr int kVecs = kBlockVecs;
};

template <class V, class T>
struct RawInt {  // integers: the vector is the data
  using Blk = typename V::BlockI;
  static constexpr int kVecs = kBlockVecs;
  static constexpr size_t kElemSize = sizeof(T);
  static constexpr size_t kElems = kBlockVecs * V::kBytes / sizeof(T);
  static Blk load(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < kBlockVecs; ++k) b.v[k] = V::loadI(p + V::kBytes * k);
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < kBlockVecs; ++k) V::storeI(p + V::kBytes * k, b.v[k]);
  }
};

template <class V>
struct F32 : FloatCodec<V> {
  static constexpr size_t kElemSize = 4;
  static constexpr size_t kElems = kBlockVecs * V::kBytes / 4;
  static typename V::BlockF load(const u8* p) {
    typename V::BlockF b;
#pragma GCC unroll 4
    for (int k = 0; k < kBlockVecs; ++k) b.v[k] = V::loadF(p + V::kBytes * k);
    return b;
  }
  static void store(u8* p, const typename V::BlockF& b) {
#pragma GCC unroll 4
    for (int k = 0; k < kBlockVecs; ++k) V::storeF(p + V::kBytes * k, b.v[k]);
  }
};

template <class V>
struct F64 {
  using Blk = typename V::BlockD;
  using Scalar = double;
  static constexpr int kVecs = kBlockVecs;
  static constexpr size_t kElemSize = 8;
  static constexpr size_t kElems = kBlockVecs * V::kBytes / 8;
  static Blk load(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < kBlockVecs; ++k) b.v[k] = V::loadD(p + V::kBytes * k);
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < kBlockVecs; ++k) V::storeD(p + V::kBytes * k, b.v[k]);
  }
};

// Rounded bf16 in the low 16 bits of each lane: nearest even; NaN keeps its top bits, made quiet.
template <class V>
typename V::I encodeBf16(typename V::F v) {
  const auto x = V::bits(v);
  const auto top = V::shiftRight32(x, 16);
  const auto lsb = V::bitAnd(top, V::splat32(1));
  const auto rounded = V::shiftRight32(V::add32(V::add32(x, lsb), V::splat32(0x7FFF)), 16);
  return V::selectOr(V::isNan(v), top, V::splat32(0x40), rounded);
}

// Reductions split each vector of bf16 with unpacklo/hi(zero, x): every bf16 lands in the top
// half of a 32-bit lane, which is its float; pack32To16 undoes the split (both work per 128-bit
// part), so the order in memory is kept. Conversions use the ordered forms.
template <class V>
struct Bf16 : FloatCodec<V> {
  using Blk = typename V::BlockF;
  static constexpr size_t kElemSize = 2;
  static constexpr size_t kElems = kBlockVecs * V::kBytes / 4;
  static Blk load(const u8* p) {
    const auto zero = V::splat32(0);
    Blk b;
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {
      const auto x = V::loadI(p + V::kBytes * k);
      b.v[2 * k] = V::floats(V::unpackLo16(zero, x));
      b.v[2 * k + 1] = V::floats(V::unpackHi16(zero, x));
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {
      V::storeI(p + V::kBytes * k,
                V::pack32To16(encodeBf16<V>(b.v[2 * k]), encodeBf16<V>(b.v[2 * k + 1])));
    }
  }
  static Blk loadOrdered(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < kBlockVecs; ++k) {
      b.v[k] = V::floats(V::shiftLeft32(V::loadWiden16(p + V::kBytes / 2 * k), 16));
    }
    return b;
  }
  static void storeOrdered(u8* p, const Blk& b) {
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {
      V::storeNarrow16(p + V::kBytes * k, encodeBf16<V>(b.v[2 * k]), encodeBf16<V>(b.v[2 * k + 1]));
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Float operations (float and double lanes alike).

template <class V>
struct Sum {
  static auto apply(auto a, auto b) { return V::add(a, b); }
};
template <class V>
struct Prod {
  static auto apply(auto a, auto b) { return V::mul(a, b); }
};
// max/min: NaN operands ignored (NaN only if both are; then a), -0 < +0. See reduce_scalar.cpp.
// The first step is a compare and select rather than VMAXPS so that, with DAZ set, a subnormal
// result keeps its bits exactly as the scalar reference's comparisons do.
template <class V>
struct Max {
  static auto apply(auto a, auto b) {
    auto r = V::select(V::greater(a, b), a, b);
    r = V::select(V::equal(a, b), V::bitAnd(a, b), r);
    return V::select(V::isNan(b), a, r);
  }
};
template <class V>
struct Min {
  static auto apply(auto a, auto b) {
    auto r = V::select(V::less(a, b), a, b);
    r = V::select(V::equal(a, b), V::bitOr(a, b), r);
    return V::select(V::isNan(b), a, r);
  }
};

template <class Op, class B>
B applyOp(const B& x, const B& y) {
  B r;
#pragma GCC unroll 4
  for (int k = 0; k < kBlockVecs; ++k) r.v[k] = Op::apply(x.v[k], y.v[k]);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Loops: full blocks in place, the last partial block through a zero-padded buffer.

template <class V, class C, class Op>
void reduceLoop(void* dst, const void* a, const void* b, size_t n) {
  constexpr size_t kBytes = C::kElems * C::kElemSize;
  u8* d = static_cast<u8*>(dst);
  const u8* pa = static_cast<const u8*>(a);
  const u8* pb = static_cast<const u8*>(b);
  const size_t full = n / C::kElems * kBytes;
  size_t off = 0;
  for (; off < full; off += kBytes) {
    // Both inputs are loaded before the store: dst may be a or b.
    const auto x = C::load(pa + off);
    const auto y = C::load(pb + off);
    C::store(d + off, applyOp<Op>(x, y));
  }
  const size_t rest = n * C::kElemSize - full;
  if (rest != 0) {
    alignas(V::kBytes) u8 ta[kBytes] = {};
    alignas(V::kBytes) u8 tb[kBytes] = {};
    alignas(V::kBytes) u8 td[kBytes];
    __builtin_memcpy(ta, pa + off, rest);
    __builtin_memcpy(tb, pb + off, rest);
    C::store(td, applyOp<Op>(C::load(ta), C::load(tb)));
    __builtin_memcpy(d + off, td, rest);
  }
}

// The divisor converts to the element's compute type (C::Scalar) exactly as in the scalar family.
template <class V, class C>
void divideLoop(void* dst, const void* src, size_t n, int divisor) {
  constexpr size_t kBytes = C::kElems * C::kElemSize;
  const auto dv = V::splat(static_cast<typename C::Scalar>(divisor));
  u8* d = static_cast<u8*>(dst);
  const u8* s = static_cast<const u8*>(src);
  auto run = [&](u8* out, const u8* in) {
    auto x = C::load(in);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) x.v[k] = V::div(x.v[k], dv);
    C::store(out, x);
  };
  const size_t full = n / C::kElems * kBytes;
  size_t off = 0;
  for (; off < full; off += kBytes) run(d + off, s + off);
  const size_t rest = n * C::kElemSize - full;
  if (rest != 0) {
    alignas(V::kBytes) u8 t[kBytes] = {};
    __builtin_memcpy(t, s + off, rest);
    run(t, t);
    __builtin_memcpy(d + off, t, rest);
  }
}

template <class C>
typename C::Blk loadInOrder(const u8* p) {
  if constexpr (requires { C::loadOrdered(p); }) {
    return C::loadOrdered(p);
  } else {
    return C::load(p);
  }
}
template <class C>
void storeInOrder(u8* p, const typename C::Blk& b) {
  if constexpr (requires { C::storeOrdered(p, b); }) {
    C::storeOrdered(p, b);
  } else {
    C::store(p, b);
  }
}

template <class V, class C>
void toFloatLoop(float* dst, const void* src, size_t n) {
  constexpr size_t kBytes = C::kElems * C::kElemSize;
  u8* d = reinterpret_cast<u8*>(dst);
  const u8* s = static_cast<const u8*>(src);
  size_t i = 0;
  for (; i + C::kElems <= n; i += C::kElems) {
    const auto x = loadInOrder<C>(s + i * C::kElemSize);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) V::storeF(d + 4 * i + V::kBytes * k, x.v[k]);
  }
  if (i < n) {
    alignas(V::kBytes) u8 t[kBytes] = {};
    alignas(V::kBytes) float f[C::kElems];
    __builtin_memcpy(t, s + i * C::kElemSize, (n - i) * C::kElemSize);
    const auto x = loadInOrder<C>(t);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) V::storeAligned(f + V::kBytes / 4 * k, x.v[k]);
    __builtin_memcpy(d + 4 * i, f, (n - i) * 4);
  }
}

template <class V, class C>
void fromFloatLoop(void* dst, const float* src, size_t n) {
  constexpr size_t kBytes = C::kElems * C::kElemSize;
  u8* d = static_cast<u8*>(dst);
  const u8* s = reinterpret_cast<const u8*>(src);
  size_t i = 0;
  typename V::BlockF x;
  for (; i + C::kElems <= n; i += C::kElems) {
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) x.v[k] = V::loadF(s + 4 * i + V::kBytes * k);
    storeInOrder<C>(d + i * C::kElemSize, x);
  }
  if (i < n) {
    alignas(V::kBytes) float f[C::kElems] = {};
    alignas(V::kBytes) u8 t[kBytes];
    __builtin_memcpy(f, s + 4 * i, (n - i) * 4);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) x.v[k] = V::loadAligned(f + V::kBytes / 4 * k);
    storeInOrder<C>(t, x);
    __builtin_memcpy(d + i * C::kElemSize, t, (n - i) * C::kElemSize);
  }
}

// ---------------------------------------------------------------------------------------------
// Table entries.

template <class V, class C, class AddOp, class MulOp, class MaxOp, class MinOp>
void setOps(ReduceKernels& k, DataType t) {
  auto& r = k.reduce[int(t)];
  r[int(RedOp::kSum)] = &reduceLoop<V, C, AddOp>;
  r[int(RedOp::kProd)] = &reduceLoop<V, C, MulOp>;
  r[int(RedOp::kMax)] = &reduceLoop<V, C, MaxOp>;
  r[int(RedOp::kMin)] = &reduceLoop<V, C, MinOp>;
}

// Sum, prod, max and min computed in float or double, and the division of an average.
template <class V, class C>
void setFloatOps(ReduceKernels& k, DataType t) {
  setOps<V, C, Sum<V>, Prod<V>, Max<V>, Min<V>>(k, t);
  k.divide[int(t)] = &divideLoop<V, C>;
}

// A type computed in float: its reductions, division and conversions to and from float.
template <class V, class C>
void setFloatDomain(ReduceKernels& k, DataType t) {
  setFloatOps<V, C>(k, t);
  k.toFloat[int(t)] = &toFloatLoop<V, C>;
  k.fromFloat[int(t)] = &fromFloatLoop<V, C>;
}

template <class V, class C, class Op>
void setOne(ReduceKernels& k, DataType t, RedOp op) {
  k.reduce[int(t)][int(op)] = &reduceLoop<V, C, Op>;
}

}  // namespace
}  // namespace plexus::kernels
