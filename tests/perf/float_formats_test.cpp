// The perf tools' own narrow-float conversions: known encodings, rounding, and exhaustive
// decode/encode round trips.
#include <gtest/gtest.h>

#include <cmath>

#include "common/datatypes.hpp"
#include "common/float_formats.hpp"

namespace plexus::perf {
namespace {

TEST(PerfFloatFormats, KnownHalfValues) {
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, 1.0), 0x3C00u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, -2.0), 0xC000u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, 65504.0), 0x7BFFu);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, 65520.0), 0x7C00u);  // rounds up to inf
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, 0x1p-24), 0x0001u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, 0x1p-25), 0x0000u);  // tie to even (zero)
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, 2049.0), 0x6800u);   // tie to even: 2048
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, 2051.0), 0x6802u);   // tie to even: 2052
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, 2048.0), 0x6800u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kHalf, 0x1.ffcp-15), 0x03FFu + 0x0001u);  // to min normal
  EXPECT_TRUE(std::isnan(decodeNarrow(NarrowFloat::kHalf, encodeNarrow(NarrowFloat::kHalf, NAN))));
  EXPECT_EQ(decodeNarrow(NarrowFloat::kHalf, 0x3555), 0x1.554p-2);
}

TEST(PerfFloatFormats, KnownBfloat16Values) {
  EXPECT_EQ(encodeNarrow(NarrowFloat::kBfloat16, 1.0), 0x3F80u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kBfloat16, 1.0 + 0x1p-8), 0x3F80u);  // tie to even
  EXPECT_EQ(encodeNarrow(NarrowFloat::kBfloat16, 1.0 + 3 * 0x1p-8), 0x3F82u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kBfloat16, -256.0), 0xC380u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kBfloat16, 1e39), 0x7F80u);  // inf
}

TEST(PerfFloatFormats, KnownFp8Values) {
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, 1.0), 0x38u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, 0.5), 0x30u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, 448.0), 0x7Eu);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, 464.0), 0x7Eu);   // tie to even: 448
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, 1000.0), 0x7Eu);  // saturates
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, -INFINITY), 0xFEu);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, 0x1p-9), 0x01u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, -16.0), 0xD8u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, 17.0), 0x58u);  // 17 -> 16 (tie to even)
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE4M3, NAN) & 0x7F, 0x7Fu);
  EXPECT_TRUE(std::isnan(decodeNarrow(NarrowFloat::kE4M3, 0x7F)));
  EXPECT_EQ(decodeNarrow(NarrowFloat::kE4M3, 0x7E), 448.0);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE5M2, 1.0), 0x3Cu);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE5M2, 57344.0), 0x7Bu);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE5M2, 1e6), 0x7Cu);  // inf
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE5M2, 0x1p-16), 0x01u);
  EXPECT_EQ(encodeNarrow(NarrowFloat::kE5M2, -8.0), 0xC8u);
  EXPECT_TRUE(std::isinf(decodeNarrow(NarrowFloat::kE5M2, 0xFC)));
}

// Every finite encoding decodes to a value that encodes back to it (and -0 stays -0).
TEST(PerfFloatFormats, ExhaustiveRoundTrip) {
  struct F {
    NarrowFloat f;
    uint32_t patterns;
  };
  for (F f : {F{NarrowFloat::kHalf, 1u << 16}, F{NarrowFloat::kBfloat16, 1u << 16},
              F{NarrowFloat::kE4M3, 256}, F{NarrowFloat::kE5M2, 256}}) {
    uint32_t finite = 0;
    for (uint32_t bits = 0; bits < f.patterns; ++bits) {
      double v = decodeNarrow(f.f, bits);
      if (std::isnan(v)) continue;
      ++finite;
      ASSERT_EQ(encodeNarrow(f.f, v), bits)
          << "format " << static_cast<int>(f.f) << " bits " << bits << " value " << v;
    }
    EXPECT_GT(finite, f.patterns * 9 / 10);
  }
}

// Midpoints between neighbours round to the even one.
TEST(PerfFloatFormats, MidpointsRoundToEven) {
  for (NarrowFloat f : {NarrowFloat::kHalf, NarrowFloat::kE4M3, NarrowFloat::kE5M2}) {
    for (uint32_t bits = 0; bits < 0x7B; ++bits) {
      double lo = decodeNarrow(f, bits), hi = decodeNarrow(f, bits + 1);
      uint32_t even = (bits & 1) == 0 ? bits : bits + 1;
      EXPECT_EQ(encodeNarrow(f, (lo + hi) / 2), even) << static_cast<int>(f) << " " << bits;
      EXPECT_EQ(encodeNarrow(f, lo + (hi - lo) / 4), bits);
      EXPECT_EQ(encodeNarrow(f, hi - (hi - lo) / 4), bits + 1);
    }
  }
}

TEST(PerfDatatypes, ElementsRoundTripForEveryType) {
  unsigned char buf[8];
  for (const TypeInfo& t : allTypes()) {
    for (int64_t v :
         {int64_t{0}, int64_t{1}, int64_t{7}, t.exactLimit, t.isSigned ? -t.exactLimit : 3}) {
      encodeElement(t, static_cast<double>(v), buf);
      EXPECT_EQ(decodeElement(t, buf), static_cast<double>(v)) << t.name << " " << v;
      encodeInteger(t, v, buf);
      if (!t.isFloat) {
        EXPECT_EQ(decodeElement(t, buf), static_cast<double>(v)) << t.name;
      }
    }
    // The limit is exact, and 2^maxPowerOfTwo is in range.
    encodeElement(t, std::ldexp(1.0, t.maxPowerOfTwo), buf);
    EXPECT_EQ(decodeElement(t, buf), std::ldexp(1.0, t.maxPowerOfTwo)) << t.name;
    if (t.isSigned) {
      encodeElement(t, -std::ldexp(1.0, t.maxPowerOfTwo), buf);
      EXPECT_EQ(decodeElement(t, buf), -std::ldexp(1.0, t.maxPowerOfTwo)) << t.name;
    }
  }
  // Narrow floats: exactLimit + 1 is not exact (so the limit is the largest).
  for (ncclDataType_t nt : {ncclFloat16, ncclBfloat16, ncclFloat8e4m3, ncclFloat8e5m2}) {
    const TypeInfo& t = typeInfo(nt);
    encodeElement(t, static_cast<double>(t.exactLimit + 1), buf);
    EXPECT_NE(decodeElement(t, buf), static_cast<double>(t.exactLimit + 1)) << t.name;
  }
}

}  // namespace
}  // namespace plexus::perf
