// float_convert.hpp: exhaustive round trips over every fp16/bf16/fp8 encoding, decoding checked
// against an independent formula, encoding checked against an independent oracle (nearest of the
// sorted representable values, ties to the even encoding) over about a million floats chosen
// around every rounding boundary, hand-picked edge cases (ties, subnormal boundaries, overflow,
// CUDA's saturating fp8 behaviour), and, where the CPU has F16C, against the hardware.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/float_convert.hpp"

namespace plexus {
namespace {

uint32_t bitsOf(float f) {
  return std::bit_cast<uint32_t>(f);
}
float floatOf(uint32_t u) {
  return std::bit_cast<float>(u);
}

static_assert(floatToHalf(1.0f) == 0x3C00);
static_assert(halfToFloat(0x3C00) == 1.0f);
static_assert(floatToBf16(1.0f) == 0x3F80);
static_assert(floatToFp8E4M3(448.0f) == 0x7E);
static_assert(floatToFp8E5M2(-2.0f) == 0xC0);

// One narrow format, described independently of float_convert.hpp's internals.
struct Format {
  const char* name;
  int bits;  // 8 or 16
  int expBits;
  int manBits;
  bool ieeeSpecials;  // all-ones exponent = inf/NaN; otherwise only S.1..1.1..1 is NaN (E4M3)
  float (*decode)(uint32_t);
  uint32_t (*encode)(float);       // default conversion
  uint32_t (*encodeNoSat)(float);  // non-saturating (fp8); same as encode otherwise
  bool saturates;                  // default conversion saturates on overflow
};

const Format kHalf{"fp16",
                   16,
                   5,
                   10,
                   true,
                   [](uint32_t v) { return halfToFloat(uint16_t(v)); },
                   [](float f) -> uint32_t { return floatToHalf(f); },
                   [](float f) -> uint32_t { return floatToHalf(f); },
                   false};
const Format kBf16{"bf16",
                   16,
                   8,
                   7,
                   true,
                   [](uint32_t v) { return bf16ToFloat(uint16_t(v)); },
                   [](float f) -> uint32_t { return floatToBf16(f); },
                   [](float f) -> uint32_t { return floatToBf16(f); },
                   false};
const Format kE4M3{
    "e4m3",
    8,
    4,
    3,
    false,
    [](uint32_t v) { return fp8E4M3ToFloat(uint8_t(v)); },
    [](float f) -> uint32_t { return floatToFp8E4M3(f); },
    [](float f) -> uint32_t { return floatToFp8E4M3(f, Fp8Overflow::kNonSaturating); },
    true};
const Format kE5M2{
    "e5m2",
    8,
    5,
    2,
    true,
    [](uint32_t v) { return fp8E5M2ToFloat(uint8_t(v)); },
    [](float f) -> uint32_t { return floatToFp8E5M2(f); },
    [](float f) -> uint32_t { return floatToFp8E5M2(f, Fp8Overflow::kNonSaturating); },
    true};
const Format* const kFormats[] = {&kHalf, &kBf16, &kE4M3, &kE5M2};

int bias(const Format& f) {
  return (1 << (f.expBits - 1)) - 1;
}
uint32_t signBit(const Format& f) {
  return 1u << (f.bits - 1);
}
uint32_t expField(const Format& f, uint32_t v) {
  return (v >> f.manBits) & ((1u << f.expBits) - 1);
}
uint32_t manField(const Format& f, uint32_t v) {
  return v & ((1u << f.manBits) - 1);
}
bool isNanEnc(const Format& f, uint32_t v) {
  const uint32_t allOnes = (1u << f.expBits) - 1;
  if (f.ieeeSpecials) return expField(f, v) == allOnes && manField(f, v) != 0;
  return (v & ~signBit(f)) == (signBit(f) - 1);
}
bool isInfEnc(const Format& f, uint32_t v) {
  return f.ieeeSpecials && expField(f, v) == (1u << f.expBits) - 1 && manField(f, v) == 0;
}

// Independent value of an encoding, in double.
double referenceValue(const Format& f, uint32_t v) {
  const double sign = (v & signBit(f)) ? -1.0 : 1.0;
  const int e = int(expField(f, v));
  const double m = double(manField(f, v));
  if (isInfEnc(f, v)) return sign * INFINITY;
  if (e == 0) return sign * std::ldexp(m, 1 - bias(f) - f.manBits);
  return sign * std::ldexp(1.0 + m / double(1 << f.manBits), e - bias(f));
}

// Oracle for encoding: sorted non-negative finite values, plus a virtual value one ulp above the
// largest (rounding to it means overflow); nearest wins, ties go to the even encoding.
struct Oracle {
  std::vector<double> values;
  std::vector<uint32_t> encs;
  double virtualValue = 0;
  uint32_t maxEnc = 0;

  explicit Oracle(const Format& f) {
    for (uint32_t v = 0; v < signBit(f); ++v) {
      if (isNanEnc(f, v) || isInfEnc(f, v)) continue;
      values.push_back(referenceValue(f, v));
      encs.push_back(v);
    }
    maxEnc = encs.back();
    virtualValue = values.back() + (values.back() - values[values.size() - 2]);
  }

  // Magnitude encoding, or maxEnc + 1 for overflow.
  uint32_t encodeMagnitude(double ax) const {
    const size_t idx = size_t(std::lower_bound(values.begin(), values.end(), ax) - values.begin());
    if (idx < values.size() && values[idx] == ax) return encs[idx];
    if (ax > virtualValue) return maxEnc + 1;
    const size_t lo = idx - 1;  // idx >= 1 since ax > 0 here
    const double vHi = idx < values.size() ? values[idx] : virtualValue;
    const uint32_t eHi = idx < values.size() ? encs[idx] : maxEnc + 1;
    const double mid = (values[lo] + vHi) / 2;
    if (ax < mid) return encs[lo];
    if (ax > mid) return eHi;
    return (encs[lo] & 1u) == 0 ? encs[lo] : eHi;
  }
};

uint32_t expectedEncoding(const Format& f, const Oracle& o, float x, bool saturate) {
  const uint32_t xb = bitsOf(x);
  const uint32_t sign = (xb >> 31) ? signBit(f) : 0;
  if (std::isnan(x)) {
    if (f.bits == 8) return 0x7F;                                       // CUDA: canonical NaN
    if (f.expBits == 5) return sign | 0x7E00u | ((xb >> 13) & 0x3FFu);  // like VCVTPS2PH
    return (xb >> 16) | 0x40u;                                          // bf16: quiet, payload kept
  }
  const uint32_t mag = o.encodeMagnitude(std::fabs(double(x)));
  if (mag <= o.maxEnc) return sign | mag;
  if (saturate) return sign | o.maxEnc;
  if (f.ieeeSpecials) return sign | (o.maxEnc + 1);  // the first encoding above max is inf
  return sign | (signBit(f) - 1);                    // E4M3: NaN
}

// About a million floats: every sign/exponent/top-7-mantissa-bit combination, each with low
// 16 bits chosen around the rounding points of all four formats, plus random ones.
std::vector<float> boundaryFloats() {
  std::vector<uint32_t> lows = {0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x2000, 0x3000,
                                0x7FFF, 0x8000, 0x8001, 0xC000, 0xF000, 0xFFFF};
  std::mt19937 rng(12345);
  for (int i = 0; i < 3; ++i) lows.push_back(rng() & 0xFFFF);
  std::vector<float> out;
  out.reserve(65536 * lows.size());
  for (uint32_t hi = 0; hi < 65536; ++hi) {
    for (uint32_t lo : lows) out.push_back(floatOf((hi << 16) | lo));
  }
  return out;
}

TEST(FloatConvert, DecodeMatchesIndependentFormula) {
  for (const Format* f : kFormats) {
    for (uint32_t v = 0; v < (1u << f->bits); ++v) {
      const float got = f->decode(v);
      if (isNanEnc(*f, v)) {
        EXPECT_TRUE(std::isnan(got)) << f->name << " " << v;
        EXPECT_EQ(std::signbit(got), (v & signBit(*f)) != 0) << f->name << " " << v;
        continue;
      }
      EXPECT_EQ(double(got), referenceValue(*f, v)) << f->name << " " << v;
      EXPECT_EQ(std::signbit(got), (v & signBit(*f)) != 0) << f->name << " " << v;
    }
  }
}

TEST(FloatConvert, ExhaustiveRoundTrip) {
  for (const Format* f : kFormats) {
    for (uint32_t v = 0; v < (1u << f->bits); ++v) {
      const float x = f->decode(v);
      if (isNanEnc(*f, v)) {
        EXPECT_TRUE(isNanEnc(*f, f->encode(x))) << f->name << " " << v;
        continue;
      }
      EXPECT_EQ(f->encodeNoSat(x), v) << f->name << " " << v;
      if (isInfEnc(*f, v) && f->saturates) {
        // CUDA's default fp8 conversion saturates infinities to the largest finite value.
        EXPECT_EQ(f->encode(x), (v & signBit(*f)) | 0x7Bu) << f->name << " " << v;
      } else {
        EXPECT_EQ(f->encode(x), v) << f->name << " " << v;
      }
    }
  }
}

TEST(FloatConvert, EncodeMatchesOracleAroundEveryBoundary) {
  const std::vector<float> xs = boundaryFloats();
  for (const Format* f : kFormats) {
    const Oracle oracle(*f);
    int failures = 0;
    for (float x : xs) {
      const uint32_t want = expectedEncoding(*f, oracle, x, f->saturates);
      const uint32_t got = f->encode(x);
      if (got != want && ++failures <= 10) {
        ADD_FAILURE() << f->name << " x=0x" << std::hex << bitsOf(x) << " got 0x" << got
                      << " want 0x" << want;
      }
      if (f->saturates) {
        const uint32_t wantNoSat = expectedEncoding(*f, oracle, x, false);
        if (f->encodeNoSat(x) != wantNoSat && ++failures <= 10) {
          ADD_FAILURE() << f->name << " nosat x=0x" << std::hex << bitsOf(x);
        }
      }
    }
    EXPECT_EQ(failures, 0) << f->name;
  }
}

TEST(FloatConvert, HalfEdgeCases) {
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(65519.996f), 0x7BFF);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7C00);  // tie between max (odd) and "next": overflow
  EXPECT_EQ(floatToHalf(-1e9f), 0xFC00);
  EXPECT_EQ(floatToHalf(INFINITY), 0x7C00);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);  // tie with 0: even
  EXPECT_EQ(floatToHalf(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(floatToHalf(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: even
  EXPECT_EQ(floatToHalf(std::ldexp(5.0f, -25)), 0x0002);  // 2.5 units: even
  EXPECT_EQ(floatToHalf(std::nextafter(std::ldexp(1.0f, -14), 0.0f)),
            0x0400);  // rounds up to normal
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie: even
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie: even (up)
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -140)), 0x0000);  // float subnormal input
  EXPECT_EQ(floatToHalf(NAN) & 0x7E00, 0x7E00);
  EXPECT_EQ(floatToHalf(floatOf(0x7F800001)), 0x7E00);  // signalling NaN quieted
  EXPECT_EQ(floatToHalf(floatOf(0xFFC00000)), 0xFE00);
  EXPECT_EQ(bitsOf(halfToFloat(0x7C01)), 0x7FC02000u);  // like VCVTPH2PS
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x7BFF), 65504.0f);
}

TEST(FloatConvert, Bf16EdgeCases) {
  EXPECT_EQ(floatToBf16(floatOf(0x3F808000)), 0x3F80);  // tie, even stays
  EXPECT_EQ(floatToBf16(floatOf(0x3F818000)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(floatToBf16(floatOf(0x3F808001)), 0x3F81);
  EXPECT_EQ(floatToBf16(floatOf(0x7F7FFFFF)), 0x7F80);  // max float rounds to inf
  EXPECT_EQ(floatToBf16(floatOf(0x7F7F7FFF)), 0x7F7F);
  EXPECT_EQ(floatToBf16(floatOf(0x00008000)), 0x0000);  // subnormal tie to even
  EXPECT_EQ(floatToBf16(floatOf(0x00018000)), 0x0002);
  EXPECT_EQ(floatToBf16(floatOf(0x80000001)), 0x8000);
  EXPECT_EQ(floatToBf16(floatOf(0x7F800001)), 0x7FC0);  // NaN quieted
  EXPECT_EQ(floatToBf16(-INFINITY), 0xFF80);
}

TEST(FloatConvert, Fp8E4M3EdgeCasesFollowCuda) {
  EXPECT_EQ(floatToFp8E4M3(448.0f), 0x7E);
  EXPECT_EQ(floatToFp8E4M3(464.0f), 0x7E);   // tie between 448 (even) and 480: 448
  EXPECT_EQ(floatToFp8E4M3(464.01f), 0x7E);  // saturates
  EXPECT_EQ(floatToFp8E4M3(464.01f, Fp8Overflow::kNonSaturating), 0x7F);
  EXPECT_EQ(floatToFp8E4M3(-1e6f), 0xFE);
  EXPECT_EQ(floatToFp8E4M3(-1e6f, Fp8Overflow::kNonSaturating), 0xFF);
  EXPECT_EQ(floatToFp8E4M3(INFINITY), 0x7E);
  EXPECT_EQ(floatToFp8E4M3(-INFINITY), 0xFE);
  EXPECT_EQ(floatToFp8E4M3(NAN), 0x7F);
  EXPECT_EQ(floatToFp8E4M3(-NAN), 0x7F);                   // CUDA canonicalizes the NaN first
  EXPECT_EQ(floatToFp8E4M3(std::ldexp(1.0f, -9)), 0x01);   // smallest subnormal
  EXPECT_EQ(floatToFp8E4M3(std::ldexp(1.0f, -10)), 0x00);  // half of it: tie to even (0)
  EXPECT_EQ(floatToFp8E4M3(std::nextafter(std::ldexp(1.0f, -10), 1.0f)), 0x01);
  EXPECT_EQ(floatToFp8E4M3(std::ldexp(3.0f, -10)), 0x02);   // 1.5 units: even
  EXPECT_EQ(floatToFp8E4M3(std::ldexp(15.0f, -10)), 0x08);  // 7.5 units: rounds to min normal
  EXPECT_EQ(floatToFp8E4M3(-std::ldexp(1.0f, -12)), 0x80);
  EXPECT_EQ(floatToFp8E4M3(1.0f), 0x38);
  EXPECT_EQ(floatToFp8E4M3(1.0625f), 0x38);  // tie: even
  EXPECT_EQ(floatToFp8E4M3(1.1875f), 0x3A);  // tie: even (up)
  EXPECT_TRUE(std::isnan(fp8E4M3ToFloat(0x7F)));
  EXPECT_TRUE(std::isnan(fp8E4M3ToFloat(0xFF)));
  EXPECT_EQ(fp8E4M3ToFloat(0x7E), 448.0f);
  EXPECT_EQ(fp8E4M3ToFloat(0x78), 256.0f);  // exponent 1111 is a normal exponent in E4M3
  EXPECT_EQ(fp8E4M3ToFloat(0x01), std::ldexp(1.0f, -9));
}

TEST(FloatConvert, Fp8E5M2EdgeCasesFollowCuda) {
  EXPECT_EQ(floatToFp8E5M2(57344.0f), 0x7B);
  EXPECT_EQ(floatToFp8E5M2(61439.0f), 0x7B);
  EXPECT_EQ(floatToFp8E5M2(61440.0f), 0x7B);  // tie with "inf": saturates by default
  EXPECT_EQ(floatToFp8E5M2(61440.0f, Fp8Overflow::kNonSaturating), 0x7C);
  EXPECT_EQ(floatToFp8E5M2(61439.0f, Fp8Overflow::kNonSaturating), 0x7B);
  EXPECT_EQ(floatToFp8E5M2(INFINITY), 0x7B);
  EXPECT_EQ(floatToFp8E5M2(-INFINITY), 0xFB);
  EXPECT_EQ(floatToFp8E5M2(-INFINITY, Fp8Overflow::kNonSaturating), 0xFC);
  EXPECT_EQ(floatToFp8E5M2(NAN), 0x7F);
  EXPECT_EQ(floatToFp8E5M2(std::ldexp(1.0f, -16)), 0x01);
  EXPECT_EQ(floatToFp8E5M2(std::ldexp(1.0f, -17)), 0x00);
  EXPECT_EQ(floatToFp8E5M2(std::ldexp(3.0f, -17)), 0x02);
  EXPECT_TRUE(std::isinf(fp8E5M2ToFloat(0x7C)));
  EXPECT_TRUE(std::isnan(fp8E5M2ToFloat(0x7D)));
  EXPECT_TRUE(std::isnan(fp8E5M2ToFloat(0xFF)));
  EXPECT_EQ(fp8E5M2ToFloat(0x01), std::ldexp(1.0f, -16));
}

#if defined(__x86_64__)
// Conversions use integer operations only, so DAZ/FTZ must not change them.
TEST(FloatConvert, IndependentOfDenormalModes) {
  for (const Format* f : kFormats) {
    std::vector<uint32_t> decoded(1u << f->bits), encoded(1u << f->bits);
    for (uint32_t v = 0; v < (1u << f->bits); ++v) {
      decoded[v] = bitsOf(f->decode(v));
      encoded[v] = f->encodeNoSat(floatOf(decoded[v]));
    }
    const unsigned saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040);  // FTZ | DAZ
    int failures = 0;
    for (uint32_t v = 0; v < (1u << f->bits); ++v) {
      const float x = f->decode(v);
      if (bitsOf(x) != decoded[v] || f->encodeNoSat(x) != encoded[v]) ++failures;
    }
    _mm_setcsr(saved);
    EXPECT_EQ(failures, 0) << f->name;
  }
}

__attribute__((target("avx,f16c"))) void hardwareHalfToFloat(const uint16_t* in, float* out) {
  _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in))));
}
__attribute__((target("avx,f16c"))) void hardwareFloatToHalf(const float* in, uint16_t* out) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   _mm256_cvtps_ph(_mm256_loadu_ps(in), _MM_FROUND_TO_NEAREST_INT));
}

TEST(FloatConvert, HalfMatchesF16cHardware) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this CPU";
  for (uint32_t v = 0; v < 65536; v += 8) {
    uint16_t in[8];
    float out[8];
    for (int i = 0; i < 8; ++i) in[i] = uint16_t(v + i);
    hardwareHalfToFloat(in, out);
    for (int i = 0; i < 8; ++i) ASSERT_EQ(bitsOf(out[i]), bitsOf(halfToFloat(in[i]))) << in[i];
  }
  const std::vector<float> xs = boundaryFloats();
  for (size_t i = 0; i + 8 <= xs.size(); i += 8) {
    uint16_t out[8];
    hardwareFloatToHalf(&xs[i], out);
    for (int k = 0; k < 8; ++k) {
      ASSERT_EQ(out[k], floatToHalf(xs[i + k])) << std::hex << bitsOf(xs[i + k]);
    }
  }
}
#endif

}  // namespace
}  // namespace plexus
