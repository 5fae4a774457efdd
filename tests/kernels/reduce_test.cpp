// reduceBuffers / finalizeAverage semantics with hand-computed expected values: integer
// wrap-around, signed/unsigned order, NaN and signed-zero rules of max/min, rounding of the
// narrow float types, fp8 saturation, averaging, argument checks. Each test runs through the
// public API (the dispatched family) and through every family this CPU supports.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "base/error.hpp"
#include "kernels/float_convert.hpp"
#include "kernels/reduce.hpp"
#include "kernels/reduce_kernels.hpp"

namespace plexus {
namespace {

using kernels::Isa;
using kernels::kernelsFor;
using kernels::ReduceKernels;

std::vector<const ReduceKernels*> families() {
  std::vector<const ReduceKernels*> out;
  for (int i = 0; i < kernels::kNumIsas; ++i) {
    if (const ReduceKernels* k = kernelsFor(Isa(i))) out.push_back(k);
  }
  return out;
}

// Runs op on (a, b) with the public API and with every family, checks each result with `check`.
template <class T, class Check>
void forEachImpl(DataType type, RedOp op, const std::vector<T>& a, const std::vector<T>& b,
                 Check check) {
  ASSERT_EQ(a.size(), b.size());
  std::vector<T> out(a.size());
  reduceBuffers(type, op, out.data(), a.data(), b.data(), a.size());
  {
    SCOPED_TRACE("public API");
    check(out);
  }
  const int kop = op == RedOp::kAvg ? 0 : int(op);
  for (const ReduceKernels* k : families()) {
    SCOPED_TRACE(k->name);
    std::fill(out.begin(), out.end(), T{});
    k->reduce[int(type)][kop](out.data(), a.data(), b.data(), a.size());
    check(out);
  }
}

template <class T>
void expectReduce(DataType type, RedOp op, const std::vector<T>& a, const std::vector<T>& b,
                  const std::vector<T>& want) {
  forEachImpl(type, op, a, b, [&](const std::vector<T>& got) {
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i], want[i]) << dataTypeName(type) << " " << redOpName(op) << " i=" << i;
    }
  });
}

TEST(Reduce, FamiliesAreComplete) {
  ASSERT_NE(kernelsFor(Isa::kScalar), nullptr);
  EXPECT_EQ(std::strcmp(reduceKernelIsa(), kernels::activeKernels().name), 0);
  for (const ReduceKernels* k : families()) {
    for (int t = 0; t < kNumDataTypes; ++t) {
      for (int op = 0; op < kernels::kNumKernelOps; ++op) EXPECT_NE(k->reduce[t][op], nullptr);
      EXPECT_NE(k->divide[t], nullptr);
      const bool floatDomain =
          DataType(t) == DataType::kFloat16 || DataType(t) == DataType::kFloat32 ||
          DataType(t) == DataType::kBfloat16 || DataType(t) == DataType::kFp8E4M3 ||
          DataType(t) == DataType::kFp8E5M2;
      EXPECT_EQ(k->toFloat[t] != nullptr, floatDomain) << k->name << " " << t;
      EXPECT_EQ(k->fromFloat[t] != nullptr, floatDomain) << k->name << " " << t;
    }
  }
  EXPECT_EQ(kernelsFor(Isa(7)), nullptr);
}

TEST(Reduce, IntegersWrapAround) {
  expectReduce<int8_t>(DataType::kInt8, RedOp::kSum, {127, -128, 100, -1}, {1, -1, 100, 1},
                       {-128, 127, -56, 0});
  expectReduce<int8_t>(DataType::kInt8, RedOp::kProd, {-128, 16, -3, 11}, {-1, 16, 5, 12},
                       {-128, 0, -15, -124});
  expectReduce<uint8_t>(DataType::kUint8, RedOp::kSum, {200, 255, 1}, {100, 1, 2}, {44, 0, 3});
  expectReduce<uint8_t>(DataType::kUint8, RedOp::kProd, {16, 255, 3}, {16, 255, 7}, {0, 1, 21});
  const int32_t imax = std::numeric_limits<int32_t>::max();
  const int32_t imin = std::numeric_limits<int32_t>::min();
  expectReduce<int32_t>(DataType::kInt32, RedOp::kSum, {imax, imin, -5}, {1, -1, 3},
                        {imin, imax, -2});
  expectReduce<int32_t>(DataType::kInt32, RedOp::kProd, {imin, 65536, -7}, {-1, 65536, 6},
                        {imin, 0, -42});
  expectReduce<uint32_t>(DataType::kUint32, RedOp::kSum, {0xFFFFFFFFu, 7}, {2, 8}, {1, 15});
  expectReduce<uint32_t>(DataType::kUint32, RedOp::kProd, {0x10000u, 0xFFFFFFFFu},
                         {0x10000u, 0xFFFFFFFFu}, {0, 1});
  const int64_t lmin = std::numeric_limits<int64_t>::min();
  expectReduce<int64_t>(DataType::kInt64, RedOp::kSum, {lmin, 1LL << 40}, {-1, 1LL << 40},
                        {std::numeric_limits<int64_t>::max(), 1LL << 41});
  expectReduce<int64_t>(DataType::kInt64, RedOp::kProd, {lmin, -3, 0x100000001LL, 1LL << 32},
                        {-1, 5, 0x100000001LL, 1LL << 32}, {lmin, -15, 0x200000001LL, 0});
  expectReduce<uint64_t>(DataType::kUint64, RedOp::kProd, {~0ull, 0xFFFFFFFFull},
                         {~0ull, 0xFFFFFFFFull}, {1, 0xFFFFFFFE00000001ull});
}

TEST(Reduce, IntegerOrderIsSignedOrUnsigned) {
  expectReduce<int8_t>(DataType::kInt8, RedOp::kMax, {-1, -128, 5}, {1, 127, 5}, {1, 127, 5});
  expectReduce<int8_t>(DataType::kInt8, RedOp::kMin, {-1, -128, 5}, {1, 127, 5}, {-1, -128, 5});
  expectReduce<uint8_t>(DataType::kUint8, RedOp::kMax, {255, 128}, {1, 127}, {255, 128});
  expectReduce<uint8_t>(DataType::kUint8, RedOp::kMin, {255, 128}, {1, 127}, {1, 127});
  expectReduce<int32_t>(DataType::kInt32, RedOp::kMax, {-1, -7}, {1, -8}, {1, -7});
  expectReduce<uint32_t>(DataType::kUint32, RedOp::kMax, {0xFFFFFFFFu, 1}, {1, 0x80000000u},
                         {0xFFFFFFFFu, 0x80000000u});
  expectReduce<uint32_t>(DataType::kUint32, RedOp::kMin, {0xFFFFFFFFu, 1}, {1, 0x80000000u},
                         {1, 1});
  const int64_t lmin = std::numeric_limits<int64_t>::min();
  expectReduce<int64_t>(DataType::kInt64, RedOp::kMax, {-1, lmin, 1LL << 40}, {1, 0, 1LL << 41},
                        {1, 0, 1LL << 41});
  expectReduce<int64_t>(DataType::kInt64, RedOp::kMin, {-1, lmin, 1LL << 40}, {1, 0, 1LL << 41},
                        {-1, lmin, 1LL << 40});
  expectReduce<uint64_t>(DataType::kUint64, RedOp::kMax, {~0ull, 1}, {1, 1ull << 63},
                         {~0ull, 1ull << 63});
  expectReduce<uint64_t>(DataType::kUint64, RedOp::kMin, {~0ull, 1}, {1, 1ull << 63}, {1, 1});
}

uint32_t bits(float f) {
  return std::bit_cast<uint32_t>(f);
}
uint64_t bits(double f) {
  return std::bit_cast<uint64_t>(f);
}

template <class F>
void checkMaxMinNanAndZero(DataType type) {
  const F nan = std::numeric_limits<F>::quiet_NaN();
  const std::vector<F> a = {nan, F(1), nan, F(0), F(-0.0), F(-3), F(2)};
  const std::vector<F> b = {F(1), nan, nan, F(-0.0), F(0), F(-2), F(2)};
  forEachImpl(type, RedOp::kMax, a, b, [&](const std::vector<F>& got) {
    EXPECT_EQ(got[0], F(1));  // a NaN operand is ignored
    EXPECT_EQ(got[1], F(1));
    EXPECT_TRUE(std::isnan(got[2]));      // NaN only when both are
    EXPECT_EQ(bits(got[3]), bits(F(0)));  // +0 is larger than -0, either order
    EXPECT_EQ(bits(got[4]), bits(F(0)));
    EXPECT_EQ(got[5], F(-2));
    EXPECT_EQ(got[6], F(2));
  });
  forEachImpl(type, RedOp::kMin, a, b, [&](const std::vector<F>& got) {
    EXPECT_EQ(got[0], F(1));
    EXPECT_EQ(got[1], F(1));
    EXPECT_TRUE(std::isnan(got[2]));
    EXPECT_EQ(bits(got[3]), bits(F(-0.0)));
    EXPECT_EQ(bits(got[4]), bits(F(-0.0)));
    EXPECT_EQ(got[5], F(-3));
    EXPECT_EQ(got[6], F(2));
  });
}

TEST(Reduce, FloatMaxMinIgnoreNanAndOrderSignedZeros) {
  checkMaxMinNanAndZero<float>(DataType::kFloat32);
  checkMaxMinNanAndZero<double>(DataType::kFloat64);
}

TEST(Reduce, FloatSumAndProd) {
  expectReduce<float>(DataType::kFloat32, RedOp::kSum, {1.5f, 1e30f, -0.0f, 16777216.0f},
                      {2.25f, 1e30f, -0.0f, 1.0f}, {3.75f, 2e30f, -0.0f, 16777216.0f});
  expectReduce<float>(DataType::kFloat32, RedOp::kProd, {1.5f, 1e30f, -2.0f}, {4.0f, 1e30f, 0.0f},
                      {6.0f, INFINITY, -0.0f});
  expectReduce<double>(DataType::kFloat64, RedOp::kSum, {0.1, 1e300}, {0.2, -1e300},
                       {0.1 + 0.2, 0.0});
}

// Narrow types: values as encodings.
TEST(Reduce, HalfRoundsOnceToNearestEven) {
  const uint16_t one = floatToHalf(1.0f);
  const uint16_t halfUlp = floatToHalf(std::ldexp(1.0f, -11));  // exactly half an ulp of 1
  const uint16_t max = 0x7BFF;
  expectReduce<uint16_t>(DataType::kFloat16, RedOp::kSum,
                         {one, floatToHalf(1.0009765625f), max, 0x0001},
                         {halfUlp, halfUlp, floatToHalf(16.0f), 0x0001},
                         {one, floatToHalf(1.001953125f), 0x7C00, 0x0002});
  expectReduce<uint16_t>(DataType::kFloat16, RedOp::kProd, {floatToHalf(3.0f), 0x0001},
                         {floatToHalf(-0.5f), floatToHalf(0.5f)},
                         {floatToHalf(-1.5f), 0x0000});  // 2^-25: tie to even -> 0
  // Max ignores a NaN operand.
  expectReduce<uint16_t>(DataType::kFloat16, RedOp::kMax, {0x7E00, one}, {one, 0xFE00}, {one, one});
}

TEST(Reduce, Bf16RoundsOnceToNearestEven) {
  const uint16_t one = floatToBf16(1.0f);
  expectReduce<uint16_t>(
      DataType::kBfloat16, RedOp::kSum, {one, floatToBf16(1.0078125f), 0x7F7F, 0x0001},
      {floatToBf16(std::ldexp(1.0f, -8)), floatToBf16(std::ldexp(1.0f, -8)), 0x7F7F, 0x8001},
      {one, floatToBf16(1.015625f), 0x7F80, 0x0000});
  expectReduce<uint16_t>(DataType::kBfloat16, RedOp::kMin, {0x7FC0, 0x8000}, {one, 0x0000},
                         {one, 0x8000});
}

TEST(Reduce, Fp8SaturatesLikeNccl) {
  const uint8_t e4Max = 0x7E, e5Max = 0x7B;
  expectReduce<uint8_t>(DataType::kFp8E4M3, RedOp::kSum, {e4Max, floatToFp8E4M3(1.0f), 0x7F, 0x01},
                        {e4Max, floatToFp8E4M3(0.0625f), floatToFp8E4M3(1.0f), 0x01},
                        {e4Max, floatToFp8E4M3(1.0f), 0x7F, 0x02});  // 1.0625: tie to even
  expectReduce<uint8_t>(DataType::kFp8E4M3, RedOp::kProd, {0xFE}, {floatToFp8E4M3(2.0f)}, {0xFE});
  expectReduce<uint8_t>(DataType::kFp8E5M2, RedOp::kSum, {e5Max, 0x7C, 0xFC, 0x7D},
                        {e5Max, floatToFp8E5M2(1.0f), floatToFp8E5M2(1.0f), 0x00},
                        {e5Max, e5Max, 0xFB, 0x7F});  // infinities saturate, NaN is canonical
  expectReduce<uint8_t>(DataType::kFp8E5M2, RedOp::kMax, {0x7F, floatToFp8E5M2(-2.0f)},
                        {floatToFp8E5M2(3.0f), floatToFp8E5M2(-4.0f)},
                        {floatToFp8E5M2(3.0f), floatToFp8E5M2(-2.0f)});
}

TEST(Reduce, AvgReducesAsSumThenDivides) {
  std::vector<int32_t> a = {-7, 7, 1, 100}, b = {0, 0, 0, 1}, out(4);
  reduceBuffers(DataType::kInt32, RedOp::kAvg, out.data(), a.data(), b.data(), 4);
  finalizeAverage(DataType::kInt32, out.data(), out.data(), 4, 2);
  EXPECT_EQ(out, (std::vector<int32_t>{-3, 3, 0, 50}));  // truncation toward zero

  const std::vector<int8_t> i8 = {-128, 127, -1, -3};
  std::vector<int8_t> i8out(4);
  finalizeAverage(DataType::kInt8, i8out.data(), i8.data(), 4, 3);
  EXPECT_EQ(i8out, (std::vector<int8_t>{-42, 42, 0, -1}));

  const std::vector<uint8_t> u8 = {255, 3};
  std::vector<uint8_t> u8out(2);
  finalizeAverage(DataType::kUint8, u8out.data(), u8.data(), 2, 4);
  EXPECT_EQ(u8out, (std::vector<uint8_t>{63, 0}));

  const std::vector<uint64_t> u64 = {~0ull, 10};
  std::vector<uint64_t> u64out(2);
  finalizeAverage(DataType::kUint64, u64out.data(), u64.data(), 2, 3);
  EXPECT_EQ(u64out, (std::vector<uint64_t>{~0ull / 3, 3}));

  const std::vector<int64_t> i64 = {std::numeric_limits<int64_t>::min(), -10};
  std::vector<int64_t> i64out(2);
  finalizeAverage(DataType::kInt64, i64out.data(), i64.data(), 2, 4);
  EXPECT_EQ(i64out, (std::vector<int64_t>{std::numeric_limits<int64_t>::min() / 4, -2}));

  std::vector<float> f = {1.0f, 3.0f, -6.0f};
  finalizeAverage(DataType::kFloat32, f.data(), f.data(), 3, 3);
  EXPECT_EQ(f, (std::vector<float>{1.0f / 3.0f, 1.0f, -2.0f}));

  std::vector<uint16_t> h = {floatToHalf(1.0f), floatToHalf(-3.0f)};
  finalizeAverage(DataType::kFloat16, h.data(), h.data(), 2, 3);
  EXPECT_EQ(h[0], floatToHalf(1.0f / 3.0f));
  EXPECT_EQ(h[1], floatToHalf(-1.0f));

  // Averaging over one rank is a copy.
  std::vector<double> d = {0.5, -2.0}, dout(2);
  finalizeAverage(DataType::kFloat64, dout.data(), d.data(), 2, 1);
  EXPECT_EQ(dout, d);
}

TEST(Reduce, ArgumentChecks) {
  int32_t x = 1;
  EXPECT_THROW(reduceBuffers(DataType(12), RedOp::kSum, &x, &x, &x, 1), Error);
  EXPECT_THROW(reduceBuffers(DataType::kInt32, RedOp(5), &x, &x, &x, 1), Error);
  EXPECT_THROW(finalizeAverage(DataType::kInt32, &x, &x, 1, 0), Error);
  EXPECT_THROW(finalizeAverage(DataType(200), &x, &x, 1, 2), Error);
  try {
    finalizeAverage(DataType::kInt32, &x, &x, 1, -3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("-3"), std::string::npos);
  }
  // Zero elements: nothing is touched, null pointers are fine.
  reduceBuffers(DataType::kFloat32, RedOp::kMax, nullptr, nullptr, nullptr, 0);
  finalizeAverage(DataType::kFloat32, nullptr, nullptr, 0, 4);
}

}  // namespace
}  // namespace plexus
