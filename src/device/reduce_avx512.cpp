// The AVX-512 kernel family (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq plus the
// AVX2 flags; run only where the registry found all of them). Same structure and the same bits
// as reduce_avx2.cpp and the scalar family: fp16 converts with VCVTPH2PS/VCVTPS2PH (nearest
// even), bf16 and fp8 with integer operations and VPMOVDW/VPMOVDB narrowing.
//
// AVX512-BF16's VCVTNE2PS2BF16 is not used: it flushes subnormal inputs to zero, which the
// reference does not. AVX512-FP16 arithmetic is not used: it would round fp16 sums in fp16
// rather than in float, and this machine cannot test it.
//
// See reduce_kernels.hpp for the rule this file follows: nothing here has external linkage except
// fillAvx512Kernels, and no inline function of another header is called.
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_* helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>

#include "device/reduce_kernels.hpp"

namespace plexus::device {
namespace {

using u8 = unsigned char;

// Four vectors of work per loop step.
struct BlockF {
  __m512 v[4];
};
struct BlockD {
  __m512d v[4];
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
    for (int k = 0; k < 4; ++k) b.v[k] = _mm512_loadu_si512(p + 64 * k);
    return b;
  }
  static void store(u8* p, const Blk& b) {
    for (int k = 0; k < 4; ++k) _mm512_storeu_si512(p + 64 * k, b.v[k]);
  }
};

struct F32 {
  using Blk = BlockF;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 4;
  static constexpr size_t kElems = 64;
  static Blk load(const u8* p) {
    Blk b;
    for (int k = 0; k < 4; ++k) b.v[k] = _mm512_loadu_ps(p + 64 * k);
    return b;
  }
  static void store(u8* p, const Blk& b) {
    for (int k = 0; k < 4; ++k) _mm512_storeu_ps(p + 64 * k, b.v[k]);
  }
};

struct F64 {
  using Blk = BlockD;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 8;
  static constexpr size_t kElems = 32;
  static Blk load(const u8* p) {
    Blk b;
    for (int k = 0; k < 4; ++k) b.v[k] = _mm512_loadu_pd(p + 64 * k);
    return b;
  }
  static void store(u8* p, const Blk& b) {
    for (int k = 0; k < 4; ++k) _mm512_storeu_pd(p + 64 * k, b.v[k]);
  }
};

struct F16 {
  using Blk = BlockF;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 2;
  static constexpr size_t kElems = 64;
  static Blk load(const u8* p) {
    Blk b;
    for (int k = 0; k < 4; ++k) {
      b.v[k] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k)));
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * k),
                          _mm512_cvtps_ph(b.v[k], _MM_FROUND_TO_NEAREST_INT));
    }
  }
};

struct Bf16 {
  using Blk = BlockF;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 2;
  static constexpr size_t kElems = 64;
  static __m512i encode(__m512 v) {  // nearest even, NaN made quiet; result in the low 16 bits
    const __m512i x = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(
        _mm512_add_epi32(x, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), lsb)), 16);
    const __m512i quietNan = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
    const __mmask16 isNan = _mm512_cmpgt_epi32_mask(
        _mm512_and_si512(x, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_blend_epi32(isNan, rounded, quietNan);
  }
  static Blk load(const u8* p) {
    Blk b;
    for (int k = 0; k < 4; ++k) {
      const __m512i x =
          _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k)));
      b.v[k] = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * k),
                          _mm512_cvtepi32_epi16(encode(b.v[k])));
    }
  }
};

template <int ManBits, int Bias, int MaxFinite, bool IeeeSpecials>
struct Fp8 {
  using Blk = BlockF;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 1;
  static constexpr size_t kElems = 64;

  static float pow2(int e) {
    union {
      uint32_t u;
      float f;
    } c{uint32_t(127 + e) << 23};
    return c.f;
  }

  static __m512 decode(__m512i x) {  // see reduce_avx2.cpp: no float denormal appears
    const __m512i sign = _mm512_slli_epi32(_mm512_and_si512(x, _mm512_set1_epi32(0x80)), 24);
    const __m512i mag = _mm512_and_si512(x, _mm512_set1_epi32(0x7F));
    const __m512i normal = _mm512_add_epi32(_mm512_slli_epi32(mag, 23 - ManBits),
                                            _mm512_set1_epi32((127 - Bias) << 23));
    const __m512 sub =
        _mm512_mul_ps(_mm512_cvtepi32_ps(mag), _mm512_set1_ps(pow2(1 - Bias - ManBits)));
    const __mmask16 isSub = _mm512_cmplt_epi32_mask(mag, _mm512_set1_epi32(1 << ManBits));
    __m512i r = _mm512_mask_blend_epi32(isSub, normal, _mm512_castps_si512(sub));
    if constexpr (IeeeSpecials) {
      const __m512i manField = _mm512_and_si512(mag, _mm512_set1_epi32((1 << ManBits) - 1));
      __m512i special =
          _mm512_or_si512(_mm512_set1_epi32(0x7F800000), _mm512_slli_epi32(manField, 23 - ManBits));
      const __mmask16 isNan = _mm512_cmpgt_epi32_mask(mag, _mm512_set1_epi32(MaxFinite + 1));
      special = _mm512_mask_or_epi32(special, isNan, special, _mm512_set1_epi32(0x400000));
      r = _mm512_mask_blend_epi32(_mm512_cmpgt_epi32_mask(mag, _mm512_set1_epi32(MaxFinite)), r,
                                  special);
    } else {
      r = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(mag, _mm512_set1_epi32(0x7F)), r,
                                  _mm512_set1_epi32(0x7FC00000));
    }
    return _mm512_castsi512_ps(_mm512_or_si512(r, sign));
  }

  static __m512i encode(__m512 v) {  // nearest even, saturating, NaN -> 0x7F
    constexpr int kShift = 23 - ManBits;
    const __m512i x = _mm512_castps_si512(v);
    const __m512i sign = _mm512_and_si512(_mm512_srli_epi32(x, 24), _mm512_set1_epi32(0x80));
    const __m512i a = _mm512_and_si512(x, _mm512_set1_epi32(0x7FFFFFFF));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(a, kShift), _mm512_set1_epi32(1));
    const __m512i rounded =
        _mm512_add_epi32(a, _mm512_add_epi32(_mm512_set1_epi32((1 << (kShift - 1)) - 1), lsb));
    const __m512i normal = _mm512_sub_epi32(_mm512_srli_epi32(rounded, kShift),
                                            _mm512_set1_epi32((127 - Bias) << ManBits));
    // Subnormals: the magic addition rounds to nearest even (embedded rounding: MXCSR ignored).
    const __m512 magic = _mm512_set1_ps(pow2(24 - Bias - ManBits));
    const __m512 sum = _mm512_add_round_ps(_mm512_castsi512_ps(a), magic,
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i sub = _mm512_sub_epi32(_mm512_castps_si512(sum), _mm512_castps_si512(magic));
    const __mmask16 isSub = _mm512_cmplt_epi32_mask(a, _mm512_set1_epi32((127 + 1 - Bias) << 23));
    __m512i r = _mm512_mask_blend_epi32(isSub, normal, sub);
    r = _mm512_min_epi32(r, _mm512_set1_epi32(MaxFinite));  // saturate (r >= 0 here)
    r = _mm512_or_si512(r, sign);
    const __mmask16 isNan = _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_blend_epi32(isNan, r, _mm512_set1_epi32(0x7F));
  }

  static Blk load(const u8* p) {
    Blk b;
    for (int k = 0; k < 4; ++k) {
      b.v[k] = decode(
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k))));
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
    for (int k = 0; k < 4; ++k) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 16 * k),
                       _mm512_cvtepi32_epi8(encode(b.v[k])));
    }
  }
};

using E4M3 = Fp8<3, 7, 0x7E, false>;
using E5M2 = Fp8<2, 15, 0x7B, true>;

// ---------------------------------------------------------------------------------------------
// Operations.

struct Sum {
  static __m512 apply(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  static __m512d apply(__m512d a, __m512d b) { return _mm512_add_pd(a, b); }
};
struct Prod {
  static __m512 apply(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
  static __m512d apply(__m512d a, __m512d b) { return _mm512_mul_pd(a, b); }
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
  static __m512d apply(__m512d a, __m512d b) {
    __m512d r = _mm512_mask_mov_pd(b, _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ), a);
    r = _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ), _mm512_and_pd(a, b));
    return _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(b, b, _CMP_UNORD_Q), a);
  }
};
struct Min {
  static __m512 apply(__m512 a, __m512 b) {
    __m512 r = _mm512_mask_mov_ps(b, _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), a);
    r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), _mm512_or_ps(a, b));
    return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q), a);
  }
  static __m512d apply(__m512d a, __m512d b) {
    __m512d r = _mm512_mask_mov_pd(b, _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ), a);
    r = _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ), _mm512_or_pd(a, b));
    return _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(b, b, _CMP_UNORD_Q), a);
  }
};

struct AddI8 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_add_epi8(a, b); }
};
struct MulI8 {  // low 8 bits of the product: the same for signed and unsigned
  static __m512i apply(__m512i a, __m512i b) {
    const __m512i even = _mm512_mullo_epi16(a, b);
    const __m512i odd = _mm512_mullo_epi16(_mm512_srli_epi16(a, 8), _mm512_srli_epi16(b, 8));
    return _mm512_or_si512(_mm512_and_si512(even, _mm512_set1_epi16(0xFF)),
                           _mm512_slli_epi16(odd, 8));
  }
};
struct MaxS8 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_max_epi8(a, b); }
};
struct MinS8 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_min_epi8(a, b); }
};
struct MaxU8 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_max_epu8(a, b); }
};
struct MinU8 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_min_epu8(a, b); }
};
struct AddI32 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_add_epi32(a, b); }
};
struct MulI32 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_mullo_epi32(a, b); }
};
struct MaxS32 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_max_epi32(a, b); }
};
struct MinS32 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_min_epi32(a, b); }
};
struct MaxU32 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_max_epu32(a, b); }
};
struct MinU32 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_min_epu32(a, b); }
};
struct AddI64 {
  static __m512i apply(__m512i a, __m512i b) { return _mm512_add_epi64(a, b); }
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
inline __m512d splat(int n, const BlockD*) {
  return _mm512_set1_pd(static_cast<double>(n));
}
inline __m512 divide(__m512 x, __m512 d) {
  return _mm512_div_ps(x, d);
}
inline __m512d divide(__m512d x, __m512d d) {
  return _mm512_div_pd(x, d);
}

template <class C>
void divideLoop(void* dst, const void* src, size_t n, int divisor) {
  constexpr size_t kBytes = C::kElems * C::kElemSize;
  const auto dv = splat(divisor, static_cast<const typename C::Blk*>(nullptr));
  u8* d = static_cast<u8*>(dst);
  const u8* s = static_cast<const u8*>(src);
  auto run = [&](u8* out, const u8* in) {
    auto x = C::load(in);
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

template <class C>
void toFloatLoop(float* dst, const void* src, size_t n) {
  constexpr size_t kBytes = C::kElems * C::kElemSize;
  u8* d = reinterpret_cast<u8*>(dst);
  const u8* s = static_cast<const u8*>(src);
  size_t i = 0;
  for (; i + C::kElems <= n; i += C::kElems) {
    const auto x = C::load(s + i * C::kElemSize);
    for (int k = 0; k < C::kVecs; ++k) _mm512_storeu_ps(d + 4 * i + 64 * k, x.v[k]);
  }
  if (i < n) {
    alignas(64) u8 t[kBytes] = {};
    alignas(64) float f[C::kElems];
    __builtin_memcpy(t, s + i * C::kElemSize, (n - i) * C::kElemSize);
    const auto x = C::load(t);
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
    for (int k = 0; k < C::kVecs; ++k) x.v[k] = _mm512_loadu_ps(s + 4 * i + 64 * k);
    C::store(d + i * C::kElemSize, x);
  }
  if (i < n) {
    alignas(64) float f[C::kElems] = {};
    alignas(64) u8 t[kBytes];
    __builtin_memcpy(f, s + 4 * i, (n - i) * 4);
    for (int k = 0; k < C::kVecs; ++k) x.v[k] = _mm512_load_ps(f + 16 * k);
    C::store(t, x);
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

void fillAvx512Kernels(ReduceKernels& k) {
  k.name = "avx512";
  setOps<RawInt<int8_t>, AddI8, MulI8, MaxS8, MinS8>(k, DataType::kInt8);
  setOps<RawInt<uint8_t>, AddI8, MulI8, MaxU8, MinU8>(k, DataType::kUint8);
  setOps<RawInt<int32_t>, AddI32, MulI32, MaxS32, MinS32>(k, DataType::kInt32);
  setOps<RawInt<uint32_t>, AddI32, MulI32, MaxU32, MinU32>(k, DataType::kUint32);
  setOps<RawInt<int64_t>, AddI64, MulI64, MaxS64, MinS64>(k, DataType::kInt64);
  setOps<RawInt<uint64_t>, AddI64, MulI64, MaxU64, MinU64>(k, DataType::kUint64);
  setFloatDomain<F16>(k, DataType::kFloat16);
  setFloatDomain<F32>(k, DataType::kFloat32);
  setFloatDomain<Bf16>(k, DataType::kBfloat16);
  setFloatDomain<E4M3>(k, DataType::kFp8E4M3);
  setFloatDomain<E5M2>(k, DataType::kFp8E5M2);
  setOps<F64, Sum, Prod, Max, Min>(k, DataType::kFloat64);
  k.divide[int(DataType::kFloat64)] = &divideLoop<F64>;
  // Integer division (finalizeAverage) keeps the scalar entries: it runs once per collective.
}

}  // namespace plexus::device
