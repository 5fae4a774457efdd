// The AVX-512 kernel building blocks, shared by reduce_avx512.cpp and reduce_avx512bf16.cpp
// (both compiled with AVX-512 flags; include this header from nowhere else). Everything here is
// in an anonymous namespace, so each of those files gets its own copy and nothing with external
// linkage is compiled with AVX-512 instructions (see reduce_kernels.hpp).
//
// Only what 512-bit vectors make faster is here (see reduce_avx512.cpp): bf16 (integer rounding),
// fp8 (decoded through fp16, encoded through fp16 rounded to odd, then integer rounding on 16-bit
// lanes) and 64-bit integer multiply/min/max. Same structure and the same bits as reduce_avx2.cpp
// and the scalar family. Loops run over blocks of four vectors; the last partial block goes
// through a small zero-padded buffer so that tails use exactly the same code as the body.
#pragma once

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_* helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>

#include "kernels/reduce_kernels.hpp"

namespace plexus::device {
namespace {

using u8 = unsigned char;

// Four vectors of work per loop step.
struct BlockF {
  __m512 v[4];
};
struct BlockI {
  __m512i v[4];
};

// ---------------------------------------------------------------------------------------------
// Codecs.

template <class T>
struct RawInt {
  using Blk = BlockI;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = sizeof(T);
  static constexpr size_t kElems = 4 * 64 / sizeof(T);
  static Blk load(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) b.v[k] = _mm512_loadu_si512(p + 64 * k);
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) _mm512_storeu_si512(p + 64 * k, b.v[k]);
  }
};

struct Bf16 {
  // Reductions load 32 bf16 per vector and split them with unpacklo/hi(zero, x): each bf16 lands
  // in the top half of a 32-bit lane, which is its float. packus_epi32 undoes the split (both
  // work per 128-bit lane), so the order in memory is kept. Conversions use the ordered forms.
  using Blk = BlockF;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 2;
  static constexpr size_t kElems = 64;

  // Rounded bf16 in the low 16 bits of each lane: nearest even; NaN keeps its top bits, made quiet.
  static __m512i encode(__m512 v) {
    const __m512i x = _mm512_castps_si512(v);
    const __m512i top = _mm512_srli_epi32(x, 16);
    const __m512i lsb = _mm512_and_si512(top, _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(x, lsb), _mm512_set1_epi32(0x7FFF)), 16);
    const __mmask16 isNan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(rounded, isNan, top, _mm512_set1_epi32(0x40));
  }
  static Blk load(const u8* p) {
    const __m512i zero = _mm512_setzero_si512();
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 2; ++k) {
      const __m512i x = _mm512_loadu_si512(p + 64 * k);
      b.v[2 * k] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, x));
      b.v[2 * k + 1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, x));
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 2; ++k) {
      _mm512_storeu_si512(p + 64 * k,
                          _mm512_packus_epi32(encode(b.v[2 * k]), encode(b.v[2 * k + 1])));
    }
  }
  static Blk loadOrdered(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m512i x =
          _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k)));
      b.v[k] = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
    }
    return b;
  }
  static void storeOrdered(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * k),
                          _mm512_cvtepi32_epi16(encode(b.v[k])));
    }
  }
};

// FP8 formats: ManBits stored mantissa bits, Bias, MaxFinite magnitude encoding; IsE4M3 selects
// E4M3's specials (only S.1111.111 is NaN) over E5M2's IEEE ones.
template <int ManBits, int Bias, int MaxFinite, bool IsE4M3>
struct Fp8 {
  using Blk = BlockF;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 1;
  static constexpr size_t kElems = 64;

  // 16 fp8 bytes -> 16 floats, exactly, through fp16 (which holds every fp8 value). E5M2 is the
  // top byte of an fp16. E4M3 becomes the fp16 S.0EEEE.MMM0000000, whose value is the E4M3 value
  // times 2^-8 (subnormals included), and the exact float product by 2^8 restores it; its NaN
  // (S.1111.111) is mapped to the fp16 NaN S.11111.1000000000 first. VCVTPH2PS ignores DAZ.
  static void decode32(__m256i bytes, __m512& lo, __m512& hi) {
    __m512i h;
    if constexpr (IsE4M3) {
      const __m512i w = _mm512_cvtepi8_epi16(bytes);  // sign-extended: bits 15..7 = S..S.EEEEMMM
      h = _mm512_and_si512(_mm512_slli_epi16(w, 7), _mm512_set1_epi16(int16_t(0xBFFF)));
      const __mmask32 isNan = _mm512_cmpeq_epi16_mask(
          _mm512_and_si512(h, _mm512_set1_epi16(0x7FFF)), _mm512_set1_epi16(0x3F80));
      // (h & 0x8000) | 0x7E00
      const __m512i nan = _mm512_ternarylogic_epi32(h, _mm512_set1_epi16(int16_t(0x8000)),
                                                    _mm512_set1_epi16(0x7E00), 0xEA);
      h = _mm512_mask_mov_epi16(h, isNan, nan);
    } else {
      h = _mm512_slli_epi16(_mm512_cvtepu8_epi16(bytes), 8);
    }
    lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
    if constexpr (IsE4M3) {
      lo = _mm512_mul_ps(lo, _mm512_set1_ps(256.0f));
      hi = _mm512_mul_ps(hi, _mm512_set1_ps(256.0f));
    }
  }

  // 16 floats -> 16 fp16 rounded to odd: truncate, then set the last bit if anything was lost.
  // Rounding that to fewer bits (nearest even) gives exactly the nearest-even result of rounding
  // the float directly, because fp16 keeps at least two more bits than fp8 at every magnitude.
  // E4M3 is scaled by 2^-8 first (exact) so that its exponent and subnormal grid line up with
  // fp16's, as E5M2's already do.
  static __m256i toHalfRoundToOdd(__m512 v) {
    if constexpr (IsE4M3) v = _mm512_mul_ps(v, _mm512_set1_ps(1.0f / 256.0f));
    const __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_ZERO);
    const __mmask16 inexact = _mm512_cmp_ps_mask(_mm512_cvtph_ps(h), v, _CMP_NEQ_UQ);
    return _mm256_mask_mov_epi16(h, inexact, _mm256_or_si256(h, _mm256_set1_epi16(1)));
  }

  // 32 floats -> 32 fp8 bytes: nearest even, saturating, NaN -> 0x7F.
  static __m256i encode32(__m512 lo, __m512 hi) {
    constexpr int kDrop = 10 - ManBits;  // fp16 mantissa bits that fp8 lacks
    const __m512i h =
        _mm512_inserti64x4(_mm512_castsi256_si512(toHalfRoundToOdd(lo)), toHalfRoundToOdd(hi), 1);
    const __m512i m = _mm512_and_si512(h, _mm512_set1_epi16(0x7FFF));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi16(m, kDrop), _mm512_set1_epi16(1));
    const __m512i rounded =
        _mm512_add_epi16(_mm512_add_epi16(m, lsb), _mm512_set1_epi16((1 << (kDrop - 1)) - 1));
    __m512i r = _mm512_min_epu16(_mm512_srli_epi16(rounded, kDrop), _mm512_set1_epi16(MaxFinite));
    // r | ((h >> 8) & 0x80): the sign
    r = _mm512_ternarylogic_epi32(r, _mm512_srli_epi16(h, 8), _mm512_set1_epi16(0x80), 0xF8);
    const __mmask32 isNan = _mm512_cmpgt_epu16_mask(m, _mm512_set1_epi16(0x7C00));
    r = _mm512_mask_mov_epi16(r, isNan, _mm512_set1_epi16(0x7F));
    return _mm512_cvtepi16_epi8(r);
  }

  static Blk load(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 2; ++k) {
      decode32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k)), b.v[2 * k],
               b.v[2 * k + 1]);
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * k),
                          encode32(b.v[2 * k], b.v[2 * k + 1]));
    }
  }
};

using E4M3 = Fp8<3, 7, 0x7E, true>;
using E5M2 = Fp8<2, 15, 0x7B, false>;

// ---------------------------------------------------------------------------------------------
// Operations.

struct Sum {
  static __m512 apply(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
};
struct Prod {
  static __m512 apply(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
};
// max/min: NaN operands ignored (NaN only if both are; then a), -0 < +0. See reduce_scalar.cpp.
// Compare and blend rather than VMAXPS: with DAZ set, subnormal results keep their bits, as in
// the scalar reference.
struct Max {
  static __m512 apply(__m512 a, __m512 b) {
    __m512 r = _mm512_mask_mov_ps(b, _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), a);
    r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), _mm512_and_ps(a, b));
    return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q), a);
  }
};
struct Min {
  static __m512 apply(__m512 a, __m512 b) {
    __m512 r = _mm512_mask_mov_ps(b, _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), a);
    r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), _mm512_or_ps(a, b));
    return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q), a);
  }
};

struct MulI64 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_mullo_epi64(a, b); }
};
struct MaxS64 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_max_epi64(a, b); }
};
struct MinS64 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_min_epi64(a, b); }
};
struct MaxU64 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_max_epu64(a, b); }
};
struct MinU64 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_min_epu64(a, b); }
};

template <class Op, class B>
B applyOp(const B& x, const B& y) {
  B r;
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) r.v[k] = Op::apply(x.v[k], y.v[k]);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Loops: full blocks in place, the last partial block through a zero-padded buffer.

template <class C, class Op>
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
    alignas(64) u8 ta[kBytes] = {};
    alignas(64) u8 tb[kBytes] = {};
    alignas(64) u8 td[kBytes];
    __builtin_memcpy(ta, pa + off, rest);
    __builtin_memcpy(tb, pb + off, rest);
    C::store(td, applyOp<Op>(C::load(ta), C::load(tb)));
    __builtin_memcpy(d + off, td, rest);
  }
}

inline __m512 splat(int n, const BlockF*) {
  return _mm512_set1_ps(static_cast<float>(n));
}
inline __m512 divide(__m512 x, __m512 d) {
  return _mm512_div_ps(x, d);
}

template <class C>
void divideLoop(void* dst, const void* src, size_t n, int divisor) {
  constexpr size_t kBytes = C::kElems * C::kElemSize;
  const auto dv = splat(divisor, static_cast<const typename C::Blk*>(nullptr));
  u8* d = static_cast<u8*>(dst);
  const u8* s = static_cast<const u8*>(src);
  auto run = [&](u8* out, const u8* in) {
    auto x = C::load(in);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) x.v[k] = divide(x.v[k], dv);
    C::store(out, x);
  };
  const size_t full = n / C::kElems * kBytes;
  size_t off = 0;
  for (; off < full; off += kBytes) run(d + off, s + off);
  const size_t rest = n * C::kElemSize - full;
  if (rest != 0) {
    alignas(64) u8 t[kBytes] = {};
    __builtin_memcpy(t, s + off, rest);
    run(t, t);
    __builtin_memcpy(d + off, t, rest);
  }
}

// Conversions keep memory order; codecs whose reduction load/store permute lanes provide
// loadOrdered/storeOrdered.
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

template <class C>
void toFloatLoop(float* dst, const void* src, size_t n) {
  constexpr size_t kBytes = C::kElems * C::kElemSize;
  u8* d = reinterpret_cast<u8*>(dst);
  const u8* s = static_cast<const u8*>(src);
  size_t i = 0;
  for (; i + C::kElems <= n; i += C::kElems) {
    const auto x = loadInOrder<C>(s + i * C::kElemSize);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) _mm512_storeu_ps(d + 4 * i + 64 * k, x.v[k]);
  }
  if (i < n) {
    alignas(64) u8 t[kBytes] = {};
    alignas(64) float f[C::kElems];
    __builtin_memcpy(t, s + i * C::kElemSize, (n - i) * C::kElemSize);
    const auto x = loadInOrder<C>(t);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) _mm512_store_ps(f + 16 * k, x.v[k]);
    __builtin_memcpy(d + 4 * i, f, (n - i) * 4);
  }
}

template <class C>
void fromFloatLoop(void* dst, const float* src, size_t n) {
  constexpr size_t kBytes = C::kElems * C::kElemSize;
  u8* d = static_cast<u8*>(dst);
  const u8* s = reinterpret_cast<const u8*>(src);
  size_t i = 0;
  BlockF x;
  for (; i + C::kElems <= n; i += C::kElems) {
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) x.v[k] = _mm512_loadu_ps(s + 4 * i + 64 * k);
    storeInOrder<C>(d + i * C::kElemSize, x);
  }
  if (i < n) {
    alignas(64) float f[C::kElems] = {};
    alignas(64) u8 t[kBytes];
    __builtin_memcpy(f, s + 4 * i, (n - i) * 4);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) x.v[k] = _mm512_load_ps(f + 16 * k);
    storeInOrder<C>(t, x);
    __builtin_memcpy(d + i * C::kElemSize, t, (n - i) * C::kElemSize);
  }
}

// ---------------------------------------------------------------------------------------------
// Table entries.

template <class C, class AddOp, class MulOp, class MaxOp, class MinOp>
void setOps(ReduceKernels& k, DataType t) {
  auto& r = k.reduce[int(t)];
  r[int(RedOp::kSum)] = &reduceLoop<C, AddOp>;
  r[int(RedOp::kProd)] = &reduceLoop<C, MulOp>;
  r[int(RedOp::kMax)] = &reduceLoop<C, MaxOp>;
  r[int(RedOp::kMin)] = &reduceLoop<C, MinOp>;
}

template <class C>
void setFloatDomain(ReduceKernels& k, DataType t) {
  setOps<C, Sum, Prod, Max, Min>(k, t);
  k.divide[int(t)] = &divideLoop<C>;
  k.toFloat[int(t)] = &toFloatLoop<C>;
  k.fromFloat[int(t)] = &fromFloatLoop<C>;
}

}  // namespace
}  // namespace plexus::device
