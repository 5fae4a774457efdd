// The AVX512-BF16 kernel family: the AVX-512 family with bf16 kernels that round with
// VCVTNE2PS2BF16/VCVTNEPS2BF16 (compiled with -mavx512bf16 on top of the AVX-512 flags; run only
// where the registry found AVX512-BF16 too). About 1.8x faster than the integer rounding when
// the data is in cache.
//
// The instruction rounds to nearest even and quiets NaN exactly as the reference does
// (float_convert.hpp), but it flushes subnormal float inputs to zero. A subnormal result is rare
// (|x| < 2^-126), so each block checks for one and, when it finds one, rounds that block with
// integer operations instead. Results are the same bits as every other family.
//
// See reduce_kernels.hpp for the rule this file follows: nothing here has external linkage except
// fillAvx512Bf16Kernels, and no inline function of another header is called.
#include "kernels/vec_avx512.hpp"
// (the trait first: the shared body uses it)
#include "kernels/reduce_simd.hpp"

namespace plexus::kernels {
namespace {

using V = Avx512;

// Reductions split 32 bf16 into the even elements (shifted into the top half of each 32-bit lane)
// and the odd ones (already there): both are floats with no shuffle. Storing converts the pair
// with one VCVTNE2PS2BF16 (evens in words 0..15, odds in 16..31) and interleaves the words back.
struct Bf16Native : FloatCodec<V> {
  static constexpr size_t kElemSize = 2;
  static constexpr size_t kElems = 64;

  // Exponent field zero and mantissa non-zero, tested on the bits (VFPCLASSPS would honour DAZ).
  static __mmask16 subnormal(__m512 v) {
    const __m512i x = _mm512_castps_si512(v);
    const __mmask16 zeroExp = _mm512_testn_epi32_mask(x, _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_test_epi32_mask(zeroExp, x, _mm512_set1_epi32(0x007FFFFF));
  }
  static bool anySubnormal(__m512 a, __m512 b) {
    return _kortestz_mask16_u8(subnormal(a), subnormal(b)) == 0;
  }

  static Blk load(const u8* p) {
    const __m512i odd = _mm512_set1_epi32(int(0xFFFF0000u));
    Blk b;
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {
      const __m512i x = _mm512_loadu_si512(p + 64 * k);
      b.v[2 * k] = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
      b.v[2 * k + 1] = _mm512_castsi512_ps(_mm512_and_si512(x, odd));
    }
    return b;
  }
  static void store(u8* p, const Blk& b) {
    const __m512i interleave =
        _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {
      const __m512 even = b.v[2 * k], odd = b.v[2 * k + 1];
      __m512i r;
      if (__builtin_expect(anySubnormal(even, odd), 0)) {
        r = _mm512_or_si512(_mm512_slli_epi32(encodeBf16<V>(odd), 16), encodeBf16<V>(even));
      } else {
        r = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(odd, even));
      }
      _mm512_storeu_si512(p + 64 * k, r);
    }
  }
  static Blk loadOrdered(const u8* p) {
    return Bf16<V>::loadOrdered(p);
  }
  static void storeOrdered(u8* p, const Blk& b) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m256i r;
      if (__builtin_expect(anySubnormal(b.v[k], b.v[k]), 0)) {
        r = _mm512_cvtepi32_epi16(encodeBf16<V>(b.v[k]));
      } else {
        r = (__m256i)_mm512_cvtneps_pbh(b.v[k]);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * k), r);
    }
  }
};

}  // namespace

void fillAvx512Bf16Kernels(ReduceKernels& k) {
  k.name = "avx512bf16";
  setFloatDomain<V, Bf16Native>(k, DataType::kBfloat16);
}

}  // namespace plexus::kernels
