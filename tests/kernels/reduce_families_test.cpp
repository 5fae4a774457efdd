// Every vector kernel family this CPU supports against the scalar reference: all datatypes and
// ops, odd lengths (0 .. 100003), out of place and with dst aliasing a or b, misaligned pointers,
// random data that includes NaN, infinities, signed zeros and subnormals. Results must be the
// same bits (NaN results only need to be NaN: payloads are unspecified). Also finalizeAverage's
// division, the float conversions (exhaustive decode, ~1M encodes around every rounding
// boundary), and the same comparisons with DAZ/FTZ set.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/float_convert.hpp"
#include "kernels/reduce_kernels.hpp"

namespace plexus::kernels {
namespace {

const size_t kLengths[] = {0, 1, 7, 31, 33, 1000, 100003};

std::vector<const ReduceKernels*> vectorFamilies() {
  std::vector<const ReduceKernels*> out;
  for (int i = 1; i < kNumIsas; ++i) {
    if (const ReduceKernels* k = kernelsFor(Isa(i))) out.push_back(k);
  }
  return out;
}

const ReduceKernels& scalar() {
  return *kernelsFor(Isa::kScalar);
}

// NaN-aware equality of one element: same bits, or both NaN.
bool isNanElement(DataType t, const uint8_t* p) {
  switch (t) {
    case DataType::kFloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return std::isnan(halfToFloat(v));
    }
    case DataType::kBfloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return std::isnan(bf16ToFloat(v));
    }
    case DataType::kFloat32: {
      float v;
      std::memcpy(&v, p, 4);
      return std::isnan(v);
    }
    case DataType::kFloat64: {
      double v;
      std::memcpy(&v, p, 8);
      return std::isnan(v);
    }
    case DataType::kFp8E4M3:
      return std::isnan(fp8E4M3ToFloat(*p));
    case DataType::kFp8E5M2:
      return std::isnan(fp8E5M2ToFloat(*p));
    default:
      return false;
  }
}

// Returns the index of the first differing element, or -1.
long firstMismatch(DataType t, const uint8_t* x, const uint8_t* y, size_t n) {
  const size_t es = dataTypeSize(t);
  for (size_t i = 0; i < n; ++i) {
    if (std::memcmp(x + i * es, y + i * es, es) == 0) continue;
    if (isNanElement(t, x + i * es) && isNanElement(t, y + i * es)) continue;
    return long(i);
  }
  return -1;
}

// Random elements; floating types mix ordinary values with specials.
void fillRandom(DataType t, uint8_t* p, size_t n, std::mt19937_64& rng) {
  const size_t es = dataTypeSize(t);
  std::uniform_real_distribution<double> value(-1000.0, 1000.0);
  std::uniform_int_distribution<int> pick(0, 99);
  for (size_t i = 0; i < n; ++i) {
    uint8_t* e = p + i * es;
    const uint64_t r = rng();
    if (t == DataType::kFloat32 || t == DataType::kFloat64) {
      const int k = pick(rng);
      double d;
      if (k < 75) {
        d = value(rng);
      } else if (k < 85) {  // raw bits: any value, NaNs and subnormals included
        std::memcpy(e, &r, es);
        continue;
      } else {
        const double specials[] = {0.0,   -0.0,    INFINITY, -INFINITY, NAN,     -NAN,
                                   1e-40, -1e-310, 3.0e38,   -3.0e38,   1.7e308, 5e-324};
        d = specials[r % (sizeof(specials) / sizeof(specials[0]))];
      }
      if (t == DataType::kFloat32) {
        const float f = float(d);
        std::memcpy(e, &f, 4);
      } else {
        std::memcpy(e, &d, 8);
      }
    } else {
      std::memcpy(e, &r, es);  // integers and narrow floats: every encoding is fair game
    }
  }
}

struct Misaligned {  // a buffer whose data pointer is offset from any natural alignment
  std::vector<uint8_t> storage;
  uint8_t* p;
  Misaligned(size_t bytes, size_t offset) : storage(bytes + 64), p(storage.data() + offset) {}
};

class FamilyTest : public ::testing::TestWithParam<int> {};

TEST_P(FamilyTest, ReduceMatchesScalarReference) {
  const DataType type = DataType(GetParam());
  const size_t es = dataTypeSize(type);
  const auto families = vectorFamilies();
  if (families.empty()) GTEST_SKIP() << "this CPU runs only the scalar family";
  std::mt19937_64 rng(0x5EED0000u + unsigned(GetParam()));
  for (size_t n : kLengths) {
    const size_t bytes = n * es;
    Misaligned a(bytes, 1), b(bytes, 3), ref(bytes, 0), out(bytes, 5);
    fillRandom(type, a.p, n, rng);
    fillRandom(type, b.p, n, rng);
    for (int op = 0; op < kNumKernelOps; ++op) {
      scalar().reduce[int(type)][op](ref.p, a.p, b.p, n);
      for (const ReduceKernels* k : families) {
        const std::string what = std::string(k->name) + " " + dataTypeName(type) + " " +
                                 redOpName(RedOp(op)) + " n=" + std::to_string(n);
        // Out of place.
        std::memset(out.p, 0xA5, bytes);
        k->reduce[int(type)][op](out.p, a.p, b.p, n);
        EXPECT_EQ(firstMismatch(type, ref.p, out.p, n), -1) << what << " out of place";
        // dst == a, and dst == b.
        for (int which = 0; which < 2; ++which) {
          Misaligned x(bytes, 2), y(bytes, 6);
          std::memcpy(x.p, a.p, bytes);
          std::memcpy(y.p, b.p, bytes);
          void* dst = which == 0 ? x.p : y.p;
          k->reduce[int(type)][op](dst, x.p, y.p, n);
          EXPECT_EQ(firstMismatch(type, ref.p, static_cast<uint8_t*>(dst), n), -1)
              << what << (which == 0 ? " dst=a" : " dst=b");
        }
        // Nothing written past the end.
        Misaligned guard(bytes + 64, 7);
        std::memset(guard.p, 0x5A, bytes + 64);
        k->reduce[int(type)][op](guard.p, a.p, b.p, n);
        for (size_t i = bytes; i < bytes + 64; ++i) ASSERT_EQ(guard.p[i], 0x5A) << what;
      }
    }
  }
}

TEST_P(FamilyTest, DivideMatchesScalarReference) {
  const DataType type = DataType(GetParam());
  const size_t es = dataTypeSize(type);
  const auto families = vectorFamilies();
  if (families.empty()) GTEST_SKIP() << "this CPU runs only the scalar family";
  std::mt19937_64 rng(0xD1u + unsigned(GetParam()));
  for (size_t n : kLengths) {
    const size_t bytes = n * es;
    Misaligned src(bytes, 1), ref(bytes, 0), out(bytes, 3);
    fillRandom(type, src.p, n, rng);
    for (int divisor : {2, 3, 7, 576}) {
      scalar().divide[int(type)](ref.p, src.p, n, divisor);
      for (const ReduceKernels* k : families) {
        k->divide[int(type)](out.p, src.p, n, divisor);
        EXPECT_EQ(firstMismatch(type, ref.p, out.p, n), -1)
            << k->name << " " << dataTypeName(type) << " n=" << n << " /" << divisor;
        Misaligned inPlace(bytes, 2);
        std::memcpy(inPlace.p, src.p, bytes);
        k->divide[int(type)](inPlace.p, inPlace.p, n, divisor);
        EXPECT_EQ(firstMismatch(type, ref.p, inPlace.p, n), -1)
            << k->name << " " << dataTypeName(type) << " in place n=" << n;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, FamilyTest, ::testing::Range(0, kNumDataTypes),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return std::string(dataTypeName(DataType(p.param)));
                         });

const DataType kFloatDomain[] = {DataType::kFloat16, DataType::kFloat32, DataType::kBfloat16,
                                 DataType::kFp8E4M3, DataType::kFp8E5M2};

std::vector<float> boundaryFloats() {  // as in float_convert_test: every rounding boundary
  std::vector<uint32_t> lows = {0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x2000, 0x3000,
                                0x7FFF, 0x8000, 0x8001, 0xC000, 0xF000, 0xFFFF, 0x5A5A};
  std::vector<float> out;
  out.reserve(65536 * lows.size());
  for (uint32_t hi = 0; hi < 65536; ++hi) {
    for (uint32_t lo : lows) out.push_back(std::bit_cast<float>((hi << 16) | lo));
  }
  return out;
}

TEST(FamilyConvert, MatchesScalarReference) {
  const auto families = vectorFamilies();
  if (families.empty()) GTEST_SKIP() << "this CPU runs only the scalar family";
  const std::vector<float> xs = boundaryFloats();
  for (DataType t : kFloatDomain) {
    const size_t es = dataTypeSize(t);
    // Decode every encoding (for float: a sample of the boundary set).
    std::vector<uint8_t> enc;
    if (es < 4) {
      const size_t count = size_t(1) << (8 * es);
      enc.resize(count * es);
      for (size_t v = 0; v < count; ++v) std::memcpy(&enc[v * es], &v, es);
    } else {
      enc.resize(xs.size() * 4);
      std::memcpy(enc.data(), xs.data(), enc.size());
    }
    const size_t n = enc.size() / es;
    std::vector<float> ref(n), got(n);
    scalar().toFloat[int(t)](ref.data(), enc.data(), n);
    std::vector<uint8_t> refEnc(xs.size() * es), gotEnc(xs.size() * es);
    scalar().fromFloat[int(t)](refEnc.data(), xs.data(), xs.size());
    for (const ReduceKernels* k : families) {
      k->toFloat[int(t)](got.data(), enc.data(), n);
      EXPECT_EQ(firstMismatch(DataType::kFloat32, reinterpret_cast<uint8_t*>(ref.data()),
                              reinterpret_cast<uint8_t*>(got.data()), n),
                -1)
          << k->name << " toFloat " << dataTypeName(t);
      k->fromFloat[int(t)](gotEnc.data(), xs.data(), xs.size());
      const long bad = firstMismatch(t, refEnc.data(), gotEnc.data(), xs.size());
      EXPECT_EQ(bad, -1) << k->name << " fromFloat " << dataTypeName(t) << " x=0x" << std::hex
                         << (bad >= 0 ? std::bit_cast<uint32_t>(xs[size_t(bad)]) : 0u);
      // Odd lengths and offsets exercise the tails.
      for (size_t len : {size_t(1), size_t(7), size_t(33), size_t(101)}) {
        std::vector<uint8_t> part(len * es + 8, 0xEE);
        k->fromFloat[int(t)](part.data() + 1, xs.data() + 12345, len);
        EXPECT_EQ(firstMismatch(t, refEnc.data() + 12345 * es, part.data() + 1, len), -1)
            << k->name << " " << dataTypeName(t) << " len " << len;
        EXPECT_EQ(part[len * es + 1], 0xEE);
      }
    }
  }
}

#if defined(__x86_64__)
// Applications built with -ffast-math run with DAZ/FTZ set; every family must still agree with
// the scalar reference (which then also flushes float subnormals in its arithmetic).
TEST(FamilyDenormalModes, SameResultsWithDazFtz) {
  const auto families = vectorFamilies();
  if (families.empty()) GTEST_SKIP() << "this CPU runs only the scalar family";
  const unsigned saved = _mm_getcsr();
  std::mt19937_64 rng(77);
  for (int t = 0; t < kNumDataTypes; ++t) {
    const DataType type = DataType(t);
    if (!isFloatingPoint(type)) continue;
    const size_t n = 4099, bytes = n * dataTypeSize(type);
    std::vector<uint8_t> a(bytes), b(bytes), ref(bytes), out(bytes);
    fillRandom(type, a.data(), n, rng);
    fillRandom(type, b.data(), n, rng);
    _mm_setcsr(saved | 0x8040);
    for (int op = 0; op < kNumKernelOps; ++op) {
      scalar().reduce[t][op](ref.data(), a.data(), b.data(), n);
      for (const ReduceKernels* k : families) {
        k->reduce[t][op](out.data(), a.data(), b.data(), n);
        const long bad = firstMismatch(type, ref.data(), out.data(), n);
        if (bad != -1) {
          _mm_setcsr(saved);
          FAIL() << k->name << " " << dataTypeName(type) << " " << redOpName(RedOp(op))
                 << " differs at " << bad << " with DAZ/FTZ";
        }
      }
    }
    _mm_setcsr(saved);
  }
}
#endif

}  // namespace
}  // namespace plexus::kernels
