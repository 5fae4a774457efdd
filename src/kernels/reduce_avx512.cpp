// The AVX-512 kernel family (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq plus the
// AVX2 flags; run only where the registry found all of them). The loops, the bf16 codec and the
// float operations are the shared SIMD body (reduce_simd.hpp) instantiated with the AVX-512 trait
// (vec_avx512.hpp); this file adds the fp8 codec and the 64-bit integer operations, and picks the
// kernels for the table. The registry fills the AVX2 entries first, so an entry not set here
// keeps its AVX2 kernel.
//
// Only the kernels that 512-bit vectors make faster are set here; the rest keep their AVX2
// kernels. Measured on AMD Zen 4 (the machine this was tuned on), the memory-bound kernels (sums
// and min/max of integers, float and double) run as fast with 256-bit vectors in L1/L2 and about
// 6% faster at L3 sizes, and 256-bit VCVTPH2PS/VCVTPS2PH beat the 512-bit forms for fp16
// (26 vs 23 GB/s in L2). 512-bit wins for bf16 (integer rounding: 19 vs 15 GB/s), fp8 (16-bit
// mask operations: 3.8 vs 2.3 GB/s) and 64-bit multiply/min/max (VPMULLQ, VPMAXSQ/UQ, which AVX2
// lacks). AVX512-FP16 is not used: that machine lacks it, so it would be untested.
//
// See reduce_kernels.hpp for the rule this file follows: nothing here has external linkage except
// fillAvx512Kernels, and no inline function of another header is called.
#include "kernels/vec_avx512.hpp"
// (the trait first: the shared body uses it)
#include "kernels/reduce_simd.hpp"

namespace plexus::kernels {
namespace {

using V = Avx512;

// FP8 formats: ManBits stored mantissa bits, Bias, MaxFinite magnitude encoding; IsE4M3 selects
// E4M3's specials (only S.1111.111 is NaN) over E5M2's IEEE ones.
template <int ManBits, int Bias, int MaxFinite, bool IsE4M3>
struct Fp8 : FloatCodec<V> {
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

// 64-bit integer operations: one instruction each here (VPMULLQ, VPMAXSQ/UQ, VPMINSQ/UQ), where
// AVX2 needs several.
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

}  // namespace

void fillAvx512Kernels(ReduceKernels& k) {
  k.name = "avx512";
  setOne<V, RawInt<V, int64_t>, MulI64>(k, DataType::kInt64, RedOp::kProd);
  setOne<V, RawInt<V, int64_t>, MaxS64>(k, DataType::kInt64, RedOp::kMax);
  setOne<V, RawInt<V, int64_t>, MinS64>(k, DataType::kInt64, RedOp::kMin);
  setOne<V, RawInt<V, uint64_t>, MulI64>(k, DataType::kUint64, RedOp::kProd);
  setOne<V, RawInt<V, uint64_t>, MaxU64>(k, DataType::kUint64, RedOp::kMax);
  setOne<V, RawInt<V, uint64_t>, MinU64>(k, DataType::kUint64, RedOp::kMin);
  setFloatDomain<V, Bf16<V>>(k, DataType::kBfloat16);
  setFloatDomain<V, E4M3>(k, DataType::kFp8E4M3);
  setFloatDomain<V, E5M2>(k, DataType::kFp8E5M2);
}

}  // namespace plexus::kernels
