// The AVX2 kernel family (compiled with -mavx2 -mf16c -mfma; run only where the registry found
// those features). Every kernel gives the same bits as the scalar family (reduce_scalar.cpp):
// fp16 converts with F16C (round to nearest even), bf16 with integer operations, fp8 decodes
// through fp16 (F16C) and encodes with integer operations.
//
// The loops, the float/double/bf16/integer codecs and the float operations are the shared SIMD
// body (reduce_simd.hpp) instantiated with the AVX2 trait (vec_avx2.hpp); this file adds what only
// AVX2 has (the fp16 and fp8 codecs, the integer operations) and fills the table.
//
// See reduce_kernels.hpp for the rule this file follows: nothing here has external linkage except
// fillAvx2Kernels, and no inline function of another header is called.
#include "kernels/vec_avx2.hpp"
// (the trait first: the shared body uses it)
#include "kernels/reduce_simd.hpp"

namespace plexus::kernels {
namespace {

using V = Avx2;

// ---------------------------------------------------------------------------------------------
// Codecs only this family has.

struct F16 : FloatCodec<V> {  // F16C, round to nearest even whatever MXCSR says
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

// FP8 formats: ManBits stored mantissa bits, Bias, MaxFinite magnitude encoding; IsE4M3 selects
// E4M3's specials (only S.1111.111 is NaN) over E5M2's IEEE ones.
template <int ManBits, int Bias, int MaxFinite, bool IsE4M3>
struct Fp8 : FloatCodec<V> {
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
// Integer operations, by element width and signedness.

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

}  // namespace

void fillAvx2Kernels(ReduceKernels& k) {
  k.name = "avx2";
  setOps<V, RawInt<V, int8_t>, AddI8, MulI8, MaxS8, MinS8>(k, DataType::kInt8);
  setOps<V, RawInt<V, uint8_t>, AddI8, MulI8, MaxU8, MinU8>(k, DataType::kUint8);
  setOps<V, RawInt<V, int32_t>, AddI32, MulI32, MaxS32, MinS32>(k, DataType::kInt32);
  setOps<V, RawInt<V, uint32_t>, AddI32, MulI32, MaxU32, MinU32>(k, DataType::kUint32);
  setOps<V, RawInt<V, int64_t>, AddI64, MulI64, MinMax64<true, true>, MinMax64<false, true>>(
      k, DataType::kInt64);
  setOps<V, RawInt<V, uint64_t>, AddI64, MulI64, MinMax64<true, false>, MinMax64<false, false>>(
      k, DataType::kUint64);
  setFloatDomain<V, F16>(k, DataType::kFloat16);
  setFloatDomain<V, F32<V>>(k, DataType::kFloat32);
  setFloatDomain<V, Bf16<V>>(k, DataType::kBfloat16);
  setFloatDomain<V, E4M3>(k, DataType::kFp8E4M3);
  setFloatDomain<V, E5M2>(k, DataType::kFp8E5M2);
  // double: vector reductions and division; no float conversion for it.
  setFloatOps<V, F64<V>>(k, DataType::kFloat64);
  // Integer division (finalizeAverage) keeps the scalar entries: it runs once per collective.
}

}  // namespace plexus::kernels
