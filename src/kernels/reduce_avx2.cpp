// The AVX2 kernel family (compiled with -mavx2 -mf16c -mfma; run only where the registry found
// those features). Every kernel gives the same bits as the scalar family (reduce_scalar.cpp):
// fp16 converts with F16C (round to nearest even), bf16 with integer operations, fp8 decodes
// through fp16 (F16C) and encodes with integer operations.
// Loops run over blocks of 128 input bytes; the last partial block goes through a small
// zero-padded buffer so that tails use exactly the same code as the body.
//
// See reduce_kernels.hpp for the rule this file follows: nothing here has external linkage except
// fillAvx2Kernels, and no inline function of another header is called.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/reduce_kernels.hpp"

namespace plexus::device {
namespace {

using u8 = unsigned char;

// Four vectors of work per loop step (plain structs: vector types make poor template arguments).
struct BlockF {
  __m256 v[4];
};
struct BlockD {
  __m256d v[4];
};
struct BlockI {
  __m256i v[4];
};

// ---------------------------------------------------------------------------------------------
// Codecs: load kElems elements from memory into a Block of vectors, and store them back.

template <class T>
struct RawInt {  // integers: the vector is the data
  using Blk = BlockI;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = sizeof(T);
  static constexpr size_t kElems = 4 * 32 / sizeof(T);
  static Blk load(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k)
      b.v[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k));
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * k), b.v[k]);
  }
};

struct F32 {
  using Blk = BlockF;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 4;
  static constexpr size_t kElems = 32;
  static Blk load(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k)
      b.v[k] = _mm256_loadu_ps(reinterpret_cast<const float*>(p + 32 * k));
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) _mm256_storeu_ps(reinterpret_cast<float*>(p + 32 * k), b.v[k]);
  }
};

struct F64 {
  using Blk = BlockD;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 8;
  static constexpr size_t kElems = 16;
  static Blk load(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k)
      b.v[k] = _mm256_loadu_pd(reinterpret_cast<const double*>(p + 32 * k));
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) _mm256_storeu_pd(reinterpret_cast<double*>(p + 32 * k), b.v[k]);
  }
};

struct F16 {  // F16C, round to nearest even whatever MXCSR says
  using Blk = BlockF;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 2;
  static constexpr size_t kElems = 32;
  static Blk load(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      b.v[k] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k)));
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 16 * k),
                       _mm256_cvtps_ph(b.v[k], _MM_FROUND_TO_NEAREST_INT));
    }
  }
};

// Rounded bf16 in the low 16 bits of each lane: nearest even; NaN keeps its top bits, made quiet.
inline __m256i encodeBf16(__m256 v) {
  const __m256i x = _mm256_castps_si256(v);
  const __m256i top = _mm256_srli_epi32(x, 16);
  const __m256i lsb = _mm256_and_si256(top, _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, lsb), _mm256_set1_epi32(0x7FFF)), 16);
  const __m256i quietNan = _mm256_or_si256(top, _mm256_set1_epi32(0x40));
  const __m256 isNan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  return _mm256_blendv_epi8(rounded, quietNan, _mm256_castps_si256(isNan));
}

struct Bf16 {
  // Reductions split 16 bf16 with unpacklo/hi(zero, x): each lands in the top half of a 32-bit
  // lane, which is its float; packus_epi32 undoes the split (both work per 128-bit lane), so the
  // order in memory is kept. Conversions use the ordered forms.
  using Blk = BlockF;
  static constexpr int kVecs = 4;
  static constexpr size_t kElemSize = 2;
  static constexpr size_t kElems = 32;
  static Blk load(const u8* p) {
    const __m256i zero = _mm256_setzero_si256();
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 2; ++k) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k));
      b.v[2 * k] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, x));
      b.v[2 * k + 1] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, x));
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 2; ++k) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * k),
                          _mm256_packus_epi32(encodeBf16(b.v[2 * k]), encodeBf16(b.v[2 * k + 1])));
    }
  }
  static Blk loadOrdered(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m256i x =
          _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k)));
      b.v[k] = _mm256_castsi256_ps(_mm256_slli_epi32(x, 16));
    }
    return b;
  }
  static void storeOrdered(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 2; ++k) {
      // packus works per 128-bit lane: [v0 0..3, v1 0..3 | v0 4..7, v1 4..7]; reorder qwords.
      const __m256i packed =
          _mm256_packus_epi32(encodeBf16(b.v[2 * k]), encodeBf16(b.v[2 * k + 1]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * k),
                          _mm256_permute4x64_epi64(packed, 0xD8));
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
  static constexpr size_t kElems = 32;

  static float pow2(int e) {  // exact 2^e for normal floats, without library calls
    union {
      uint32_t u;
      float f;
    } c{uint32_t(127 + e) << 23};
    return c.f;
  }

  // 16 fp8 bytes -> 16 floats, exactly, through fp16 (which holds every fp8 value). E5M2 is the
  // top byte of an fp16. E4M3 becomes the fp16 S.0EEEE.MMM0000000, whose value is the E4M3 value
  // times 2^-8 (subnormals included), and the exact float product by 2^8 restores it; its NaN
  // (S.1111.111) is mapped to the fp16 NaN S.11111.1000000000 first. VCVTPH2PS ignores DAZ.
  static void decode16(__m128i bytes, __m256& lo, __m256& hi) {
    __m256i h;
    if constexpr (IsE4M3) {
      const __m256i w = _mm256_cvtepi8_epi16(bytes);  // sign-extended: bits 15..7 = S..S.EEEEMMM
      h = _mm256_and_si256(_mm256_slli_epi16(w, 7), _mm256_set1_epi16(int16_t(0xBFFF)));
      const __m256i isNan = _mm256_cmpeq_epi16(_mm256_and_si256(h, _mm256_set1_epi16(0x7FFF)),
                                               _mm256_set1_epi16(0x3F80));
      const __m256i nan = _mm256_or_si256(_mm256_and_si256(h, _mm256_set1_epi16(int16_t(0x8000))),
                                          _mm256_set1_epi16(0x7E00));
      h = _mm256_blendv_epi8(h, nan, isNan);
    } else {
      h = _mm256_slli_epi16(_mm256_cvtepu8_epi16(bytes), 8);
    }
    lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
    hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
    if constexpr (IsE4M3) {
      lo = _mm256_mul_ps(lo, _mm256_set1_ps(256.0f));
      hi = _mm256_mul_ps(hi, _mm256_set1_ps(256.0f));
    }
  }

  // 8 floats -> fp8 bytes (0..255) in 32-bit lanes: nearest even, saturating, NaN -> 0x7F.
  static __m256i encode(__m256 v) {
    constexpr int kShift = 23 - ManBits;
    const __m256i x = _mm256_castps_si256(v);
    const __m256i a = _mm256_and_si256(x, _mm256_set1_epi32(0x7FFFFFFF));
    // Normal range: round the float bits at the target's last mantissa bit; the rebias is folded
    // into the rounding constant (lanes where it goes negative are subnormal and replaced below).
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(a, kShift), _mm256_set1_epi32(1));
    const __m256i rounded =
        _mm256_add_epi32(_mm256_add_epi32(a, lsb),
                         _mm256_set1_epi32(((1 << (kShift - 1)) - 1) - ((127 - Bias) << 23)));
    const __m256i normal = _mm256_srli_epi32(rounded, kShift);
    // Subnormal range: adding 2^(24 - Bias - ManBits), whose ulp is the target's smallest
    // subnormal, rounds |x| to nearest even in the FPU; the low bits are then the encoding.
    const __m256 magic = _mm256_set1_ps(pow2(24 - Bias - ManBits));
    const __m256i sub =
        _mm256_xor_si256(_mm256_castps_si256(_mm256_add_ps(_mm256_castsi256_ps(a), magic)),
                         _mm256_castps_si256(magic));
    const __m256i isSub = _mm256_cmpgt_epi32(_mm256_set1_epi32((127 + 1 - Bias) << 23), a);
    __m256i r = _mm256_blendv_epi8(normal, sub, isSub);
    r = _mm256_min_epi32(r, _mm256_set1_epi32(MaxFinite));  // saturate (r >= 0 here)
    r = _mm256_or_si256(r, _mm256_and_si256(_mm256_srli_epi32(x, 24), _mm256_set1_epi32(0x80)));
    const __m256 isNan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    return _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7F), _mm256_castps_si256(isNan));
  }

  static Blk load(const u8* p) {
    Blk b;
#pragma GCC unroll 4
    for (int k = 0; k < 2; ++k) {
      decode16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k)), b.v[2 * k],
               b.v[2 * k + 1]);
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
    // packus works per 128-bit lane; the dword permutation puts the 4-byte groups back in order.
    const __m256i w0 = _mm256_packus_epi32(encode(b.v[0]), encode(b.v[1]));
    const __m256i w1 = _mm256_packus_epi32(encode(b.v[2]), encode(b.v[3]));
    const __m256i bytes = _mm256_packus_epi16(w0, w1);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_permutevar8x32_epi32(bytes, order));
  }
};

using E4M3 = Fp8<3, 7, 0x7E, true>;
using E5M2 = Fp8<2, 15, 0x7B, false>;

// ---------------------------------------------------------------------------------------------
// Operations on vectors.

struct Sum {
  static __m256 apply(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
  static __m256d apply(__m256d a, __m256d b) { return _mm256_add_pd(a, b); }
};
struct Prod {
  static __m256 apply(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
  static __m256d apply(__m256d a, __m256d b) { return _mm256_mul_pd(a, b); }
};
// max/min: NaN operands ignored (NaN only if both are; then a), -0 < +0. See reduce_scalar.cpp.
// The first step is a compare and blend rather than VMAXPS so that, with DAZ set, a subnormal
// result keeps its bits exactly as the scalar reference's comparisons do.
struct Max {
  static __m256 apply(__m256 a, __m256 b) {
    __m256 r = _mm256_blendv_ps(b, a, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
    r = _mm256_blendv_ps(r, _mm256_and_ps(a, b), _mm256_cmp_ps(a, b, _CMP_EQ_OQ));
    return _mm256_blendv_ps(r, a, _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
  }
  static __m256d apply(__m256d a, __m256d b) {
    __m256d r = _mm256_blendv_pd(b, a, _mm256_cmp_pd(a, b, _CMP_GT_OQ));
    r = _mm256_blendv_pd(r, _mm256_and_pd(a, b), _mm256_cmp_pd(a, b, _CMP_EQ_OQ));
    return _mm256_blendv_pd(r, a, _mm256_cmp_pd(b, b, _CMP_UNORD_Q));
  }
};
struct Min {
  static __m256 apply(__m256 a, __m256 b) {
    __m256 r = _mm256_blendv_ps(b, a, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
    r = _mm256_blendv_ps(r, _mm256_or_ps(a, b), _mm256_cmp_ps(a, b, _CMP_EQ_OQ));
    return _mm256_blendv_ps(r, a, _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
  }
  static __m256d apply(__m256d a, __m256d b) {
    __m256d r = _mm256_blendv_pd(b, a, _mm256_cmp_pd(a, b, _CMP_LT_OQ));
    r = _mm256_blendv_pd(r, _mm256_or_pd(a, b), _mm256_cmp_pd(a, b, _CMP_EQ_OQ));
    return _mm256_blendv_pd(r, a, _mm256_cmp_pd(b, b, _CMP_UNORD_Q));
  }
};

// Integer operations, by element width and signedness.
struct AddI8 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_add_epi8(a, b); }
};
struct MulI8 {  // low 8 bits of the product: the same for signed and unsigned
  static __m256i apply(__m256i a, __m256i b) {
    const __m256i even = _mm256_mullo_epi16(a, b);
    const __m256i odd = _mm256_mullo_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
    return _mm256_or_si256(_mm256_and_si256(even, _mm256_set1_epi16(0xFF)),
                           _mm256_slli_epi16(odd, 8));
  }
};
struct MaxS8 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_max_epi8(a, b); }
};
struct MinS8 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_min_epi8(a, b); }
};
struct MaxU8 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_max_epu8(a, b); }
};
struct MinU8 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_min_epu8(a, b); }
};
struct AddI32 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
};
struct MulI32 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_mullo_epi32(a, b); }
};
struct MaxS32 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_max_epi32(a, b); }
};
struct MinS32 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_min_epi32(a, b); }
};
struct MaxU32 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_max_epu32(a, b); }
};
struct MinU32 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_min_epu32(a, b); }
};
struct AddI64 {
  static __m256i apply(__m256i a, __m256i b) { return _mm256_add_epi64(a, b); }
};
struct MulI64 {  // lo*lo + ((lo*hi + hi*lo) << 32), modulo 2^64
  static __m256i apply(__m256i a, __m256i b) {
    const __m256i lo = _mm256_mul_epu32(a, b);
    const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b),
                                           _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
    return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
  }
};
template <bool IsMax, bool IsSigned>
struct MinMax64 {
  static __m256i apply(__m256i a, __m256i b) {
    __m256i x = a, y = b;
    if constexpr (!IsSigned) {  // unsigned order = signed order after flipping the top bit
      const __m256i flip = _mm256_set1_epi64x(int64_t(0x8000000000000000ull));
      x = _mm256_xor_si256(a, flip);
      y = _mm256_xor_si256(b, flip);
    }
    const __m256i aGreater = _mm256_cmpgt_epi64(x, y);
    return IsMax ? _mm256_blendv_epi8(b, a, aGreater) : _mm256_blendv_epi8(a, b, aGreater);
  }
};

template <class Op, class B>
B applyOp(const B& x, const B& y) {
  B r;
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) r.v[k] = Op::apply(x.v[k], y.v[k]);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Loops.

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
    alignas(32) u8 ta[kBytes] = {};
    alignas(32) u8 tb[kBytes] = {};
    alignas(32) u8 td[kBytes];
    __builtin_memcpy(ta, pa + off, rest);
    __builtin_memcpy(tb, pb + off, rest);
    C::store(td, applyOp<Op>(C::load(ta), C::load(tb)));
    __builtin_memcpy(d + off, td, rest);
  }
}

// The divisor converts to the element's compute type exactly as in the scalar family.
inline __m256 splat(int n, const BlockF*) {
  return _mm256_set1_ps(static_cast<float>(n));
}
inline __m256d splat(int n, const BlockD*) {
  return _mm256_set1_pd(static_cast<double>(n));
}
inline __m256 divide(__m256 x, __m256 d) {
  return _mm256_div_ps(x, d);
}
inline __m256d divide(__m256d x, __m256d d) {
  return _mm256_div_pd(x, d);
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
    alignas(32) u8 t[kBytes] = {};
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
    for (int k = 0; k < C::kVecs; ++k)
      _mm256_storeu_ps(reinterpret_cast<float*>(d + 4 * i + 32 * k), x.v[k]);
  }
  if (i < n) {
    alignas(32) u8 t[kBytes] = {};
    alignas(32) float f[C::kElems];
    __builtin_memcpy(t, s + i * C::kElemSize, (n - i) * C::kElemSize);
    const auto x = loadInOrder<C>(t);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) _mm256_store_ps(f + 8 * k, x.v[k]);
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
    for (int k = 0; k < C::kVecs; ++k)
      x.v[k] = _mm256_loadu_ps(reinterpret_cast<const float*>(s + 4 * i + 32 * k));
    storeInOrder<C>(d + i * C::kElemSize, x);
  }
  if (i < n) {
    alignas(32) float f[C::kElems] = {};
    alignas(32) u8 t[kBytes];
    __builtin_memcpy(f, s + 4 * i, (n - i) * 4);
#pragma GCC unroll 4
    for (int k = 0; k < C::kVecs; ++k) x.v[k] = _mm256_load_ps(f + 8 * k);
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

void fillAvx2Kernels(ReduceKernels& k) {
  k.name = "avx2";
  setOps<RawInt<int8_t>, AddI8, MulI8, MaxS8, MinS8>(k, DataType::kInt8);
  setOps<RawInt<uint8_t>, AddI8, MulI8, MaxU8, MinU8>(k, DataType::kUint8);
  setOps<RawInt<int32_t>, AddI32, MulI32, MaxS32, MinS32>(k, DataType::kInt32);
  setOps<RawInt<uint32_t>, AddI32, MulI32, MaxU32, MinU32>(k, DataType::kUint32);
  setOps<RawInt<int64_t>, AddI64, MulI64, MinMax64<true, true>, MinMax64<false, true>>(
      k, DataType::kInt64);
  setOps<RawInt<uint64_t>, AddI64, MulI64, MinMax64<true, false>, MinMax64<false, false>>(
      k, DataType::kUint64);
  setFloatDomain<F16>(k, DataType::kFloat16);
  setFloatDomain<F32>(k, DataType::kFloat32);
  setFloatDomain<Bf16>(k, DataType::kBfloat16);
  setFloatDomain<E4M3>(k, DataType::kFp8E4M3);
  setFloatDomain<E5M2>(k, DataType::kFp8E5M2);
  // double: vector reductions and division; no float conversion for it.
  setOps<F64, Sum, Prod, Max, Min>(k, DataType::kFloat64);
  k.divide[int(DataType::kFloat64)] = &divideLoop<F64>;
  // Integer division (finalizeAverage) keeps the scalar entries: it runs once per collective.
}

}  // namespace plexus::device
