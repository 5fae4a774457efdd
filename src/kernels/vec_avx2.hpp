// The AVX2 vector trait of the SIMD reduction body (reduce_simd.hpp): 256-bit vectors of float,
// double and integer lanes, and the few operations the shared loops and codecs need, each one
// instruction (or a fixed short sequence) of AVX2. Include it only from reduce_avx2.cpp, which
// is compiled with the AVX2 flags; everything here is in an anonymous namespace (see the rule in
// reduce_kernels.hpp).
#pragma once

#if !defined(__AVX2__) || !defined(__F16C__) || !defined(__FMA__)
#error "vec_avx2.hpp needs -mavx2 -mf16c -mfma: include it only from reduce_avx2.cpp"
#endif

#include <immintrin.h>

#include <cstddef>

namespace plexus::kernels {
namespace {

struct Avx2 {
  using u8 = unsigned char;
  using F = __m256;
  using D = __m256d;
  using I = __m256i;
  using MaskF = __m256;  // comparison results: all-ones lanes
  using MaskD = __m256d;
  // Four vectors of work per loop step (plain structs: vector types make poor template arguments).
  struct BlockF {
    F v[4];
  };
  struct BlockD {
    D v[4];
  };
  struct BlockI {
    I v[4];
  };
  static constexpr size_t kBytes = 32;  // one vector

  static F loadF(const u8* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
  static void storeF(u8* p, F v) { _mm256_storeu_ps(reinterpret_cast<float*>(p), v); }
  static F loadAligned(const float* p) { return _mm256_load_ps(p); }
  static void storeAligned(float* p, F v) { _mm256_store_ps(p, v); }
  static D loadD(const u8* p) { return _mm256_loadu_pd(reinterpret_cast<const double*>(p)); }
  static void storeD(u8* p, D v) { _mm256_storeu_pd(reinterpret_cast<double*>(p), v); }
  static I loadI(const u8* p) { return _mm256_loadu_si256(reinterpret_cast<const I*>(p)); }
  static void storeI(u8* p, I v) { _mm256_storeu_si256(reinterpret_cast<I*>(p), v); }

  static F splat(float x) { return _mm256_set1_ps(x); }
  static D splat(double x) { return _mm256_set1_pd(x); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static D add(D a, D b) { return _mm256_add_pd(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static D mul(D a, D b) { return _mm256_mul_pd(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static D div(D a, D b) { return _mm256_div_pd(a, b); }

  static MaskF greater(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static MaskD greater(D a, D b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
  static MaskF less(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static MaskD less(D a, D b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
  static MaskF equal(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static MaskD equal(D a, D b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
  static MaskF isNan(F a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static MaskD isNan(D a) { return _mm256_cmp_pd(a, a, _CMP_UNORD_Q); }
  // m ? ifSet : otherwise, per lane.
  static F select(MaskF m, F ifSet, F otherwise) { return _mm256_blendv_ps(otherwise, ifSet, m); }
  static D select(MaskD m, D ifSet, D otherwise) { return _mm256_blendv_pd(otherwise, ifSet, m); }
  static F bitAnd(F a, F b) { return _mm256_and_ps(a, b); }
  static D bitAnd(D a, D b) { return _mm256_and_pd(a, b); }
  static F bitOr(F a, F b) { return _mm256_or_ps(a, b); }
  static D bitOr(D a, D b) { return _mm256_or_pd(a, b); }

  // 32-bit integer lanes.
  static I bits(F v) { return _mm256_castps_si256(v); }
  static F floats(I x) { return _mm256_castsi256_ps(x); }
  static I splat32(int x) { return _mm256_set1_epi32(x); }
  static I add32(I a, I b) { return _mm256_add_epi32(a, b); }
  static I bitAnd(I a, I b) { return _mm256_and_si256(a, b); }
  static I bitOr(I a, I b) { return _mm256_or_si256(a, b); }
  static I shiftLeft32(I x, int n) { return _mm256_slli_epi32(x, n); }
  static I shiftRight32(I x, int n) { return _mm256_srli_epi32(x, n); }
  // m ? (a | b) : otherwise, per 32-bit lane.
  static I selectOr(MaskF m, I a, I b, I otherwise) {
    return _mm256_blendv_epi8(otherwise, _mm256_or_si256(a, b), _mm256_castps_si256(m));
  }

  // 16-bit words: interleave the low/high words of each 128-bit half of a and b; pack 32-bit
  // lanes to 16 bits with unsigned saturation (per 128-bit half, a's lanes first).
  static I unpackLo16(I a, I b) { return _mm256_unpacklo_epi16(a, b); }
  static I unpackHi16(I a, I b) { return _mm256_unpackhi_epi16(a, b); }
  static I pack32To16(I a, I b) { return _mm256_packus_epi32(a, b); }
  // 8 uint16 from memory, zero-extended into the 32-bit lanes in order.
  static I loadWiden16(const u8* p) {
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // The low 16 bits of every lane of lo, then of hi, to memory in order (lanes are < 0x10000).
  static void storeNarrow16(u8* p, I lo, I hi) {
    // packus works per 128-bit half: [lo 0..3, hi 0..3 | lo 4..7, hi 4..7]; reorder qwords.
    storeI(p, _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8));
  }
};

}  // namespace
}  // namespace plexus::kernels
