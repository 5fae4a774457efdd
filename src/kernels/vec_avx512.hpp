// The AVX-512 vector trait of the SIMD reduction body (reduce_simd.hpp): 512-bit vectors of float
// and integer lanes (the AVX-512 family computes no double: it keeps AVX2's), comparisons into
// mask registers, and the few operations the shared loops and codecs need. Include it only from
// reduce_avx512.cpp and reduce_avx512bf16.cpp, which are compiled with the AVX-512 flags;
// everything here is in an anonymous namespace (see the rule in reduce_kernels.hpp).
#pragma once

#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || \
    !defined(__AVX512DQ__)
#error "vec_avx512.hpp needs -mavx512f -mavx512bw -mavx512vl -mavx512dq: see its first line"
#endif

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_* helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>

namespace plexus::kernels {
namespace {

struct Avx512 {
  using u8 = unsigned char;
  using F = __m512;
  using I = __m512i;
  using MaskF = __mmask16;  // one bit per float lane
  // Four vectors of work per loop step.
  struct BlockF {
    F v[4];
  };
  struct BlockI {
    I v[4];
  };
  static constexpr size_t kBytes = 64;  // one vector

  static F loadF(const u8* p) { return _mm512_loadu_ps(p); }
  static void storeF(u8* p, F v) { _mm512_storeu_ps(p, v); }
  static F loadAligned(const float* p) { return _mm512_load_ps(p); }
  static void storeAligned(float* p, F v) { _mm512_store_ps(p, v); }
  static I loadI(const u8* p) { return _mm512_loadu_si512(p); }
  static void storeI(u8* p, I v) { _mm512_storeu_si512(p, v); }

  static F splat(float x) { return _mm512_set1_ps(x); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }

  static MaskF greater(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static MaskF less(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static MaskF equal(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static MaskF isNan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  // m ? ifSet : otherwise, per lane.
  static F select(MaskF m, F ifSet, F otherwise) { return _mm512_mask_mov_ps(otherwise, m, ifSet); }
  static F bitAnd(F a, F b) { return _mm512_and_ps(a, b); }
  static F bitOr(F a, F b) { return _mm512_or_ps(a, b); }

  // 32-bit integer lanes.
  static I bits(F v) { return _mm512_castps_si512(v); }
  static F floats(I x) { return _mm512_castsi512_ps(x); }
  static I splat32(int x) { return _mm512_set1_epi32(x); }
  static I add32(I a, I b) { return _mm512_add_epi32(a, b); }
  static I bitAnd(I a, I b) { return _mm512_and_si512(a, b); }
  static I bitOr(I a, I b) { return _mm512_or_si512(a, b); }
  static I shiftLeft32(I x, int n) { return _mm512_slli_epi32(x, unsigned(n)); }
  static I shiftRight32(I x, int n) { return _mm512_srli_epi32(x, unsigned(n)); }
  // m ? (a | b) : otherwise, per 32-bit lane.
  static I selectOr(MaskF m, I a, I b, I otherwise) {
    return _mm512_mask_or_epi32(otherwise, m, a, b);
  }

  // 16-bit words: interleave the low/high words of each 128-bit quarter of a and b; pack 32-bit
  // lanes to 16 bits with unsigned saturation (per 128-bit quarter, a's lanes first).
  static I unpackLo16(I a, I b) { return _mm512_unpacklo_epi16(a, b); }
  static I unpackHi16(I a, I b) { return _mm512_unpackhi_epi16(a, b); }
  static I pack32To16(I a, I b) { return _mm512_packus_epi32(a, b); }
  // 16 uint16 from memory, zero-extended into the 32-bit lanes in order.
  static I loadWiden16(const u8* p) {
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  // The low 16 bits of every lane of lo, then of hi, to memory in order (lanes are < 0x10000).
  static void storeNarrow16(u8* p, I lo, I hi) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(lo));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32), _mm512_cvtepi32_epi16(hi));
  }
};

}  // namespace
}  // namespace plexus::kernels
