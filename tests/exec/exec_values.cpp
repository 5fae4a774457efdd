// Exact inputs and references (see exec_values.hpp).
#include "tests/exec/exec_values.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "kernels/datatype.hpp"
#include "kernels/float_convert.hpp"

namespace plexus::exectest {
namespace {

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

bool isInt(DataType t) {
  return !isFloatingPoint(t);
}
unsigned bitsOf(DataType t) {
  return static_cast<unsigned>(dataTypeSize(t) * 8);
}
uint64_t maskOf(DataType t) {
  return bitsOf(t) == 64 ? ~uint64_t{0} : (uint64_t{1} << bitsOf(t)) - 1;
}
bool isSigned(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt32 || t == DataType::kInt64;
}
int64_t signExtend(uint64_t v, unsigned b) {
  return b == 64 ? static_cast<int64_t>(v) : static_cast<int64_t>(v << (64 - b)) >> (64 - b);
}

void storeInt(void* p, DataType t, uint64_t k, uint64_t v) {
  std::memcpy(static_cast<char*>(p) + k * dataTypeSize(t), &v, dataTypeSize(t));
}

void storeFloat(void* p, DataType t, uint64_t k, double v) {
  char* at = static_cast<char*>(p) + k * dataTypeSize(t);
  const float f = static_cast<float>(v);
  switch (t) {
    case DataType::kFloat64:
      std::memcpy(at, &v, 8);
      return;
    case DataType::kFloat32:
      std::memcpy(at, &f, 4);
      return;
    case DataType::kFloat16: {
      const uint16_t h = floatToHalf(f);
      std::memcpy(at, &h, 2);
      return;
    }
    case DataType::kBfloat16: {
      const uint16_t h = floatToBf16(f);
      std::memcpy(at, &h, 2);
      return;
    }
    case DataType::kFp8E4M3:
      *reinterpret_cast<uint8_t*>(at) = floatToFp8E4M3(f);
      return;
    case DataType::kFp8E5M2:
      *reinterpret_cast<uint8_t*>(at) = floatToFp8E5M2(f);
      return;
    default:
      return;
  }
}

// The base b(i) >= 1 of sum/avg inputs, small enough that n*b (n <= 8) is exact in the type.
double sumBase(DataType t, uint64_t i, uint64_t seed) {
  const uint64_t range = t == DataType::kFp8E5M2    ? 1
                         : t == DataType::kFp8E4M3  ? 2
                         : t == DataType::kBfloat16 ? 31
                         : t == DataType::kFloat16  ? 255
                                                    : 100000;
  return 1.0 + static_cast<double>(mix(seed * 7 + i) % range);
}

double floatInput(DataType t, RedOp op, int r, int n, uint64_t i, uint64_t seed) {
  const uint64_t ur = static_cast<uint64_t>(r), un = static_cast<uint64_t>(n);
  switch (op) {
    case RedOp::kSum:
    case RedOp::kAvg: {
      double e = 0;
      if (n > 1 && ur == i % un) e = 1;
      if (n > 1 && ur == (i + 1) % un) e = -1;
      return sumBase(t, i, seed) + e;
    }
    case RedOp::kProd: {
      const double sign = (i * 3 + ur) % 7 == 0 ? -1 : 1;
      return sign * ((i + ur) % 4 == 0 ? 2 : 1);
    }
    case RedOp::kMax:
    case RedOp::kMin: {
      const uint64_t m = t == DataType::kFp8E5M2 || t == DataType::kFp8E4M3 ? 17
                         : t == DataType::kBfloat16                         ? 255
                         : t == DataType::kFloat16                          ? 2047
                                                                            : 1000001;
      return static_cast<double>(mix(seed * 31 + ur * 1000003 + i) % m) -
             static_cast<double>(m / 2);
    }
  }
  return 0;
}

uint64_t intInput(DataType t, int r, uint64_t i, uint64_t seed) {
  return mix(seed * 1000003 + static_cast<uint64_t>(r) * 104729 + i * 31) & maskOf(t);
}

uint64_t reduceInt(DataType t, RedOp op, uint64_t acc, uint64_t v) {
  const unsigned b = bitsOf(t);
  switch (op) {
    case RedOp::kSum:
    case RedOp::kAvg:
      return (acc + v) & maskOf(t);
    case RedOp::kProd:
      return (acc * v) & maskOf(t);
    case RedOp::kMax:
      return (isSigned(t) ? signExtend(v, b) > signExtend(acc, b) : v > acc) ? v : acc;
    case RedOp::kMin:
      return (isSigned(t) ? signExtend(v, b) < signExtend(acc, b) : v < acc) ? v : acc;
  }
  return acc;
}

}  // namespace

void storeInput(void* buf, uint64_t k, DataType t, RedOp op, int rank, int nranks, uint64_t i,
                uint64_t seed) {
  if (isInt(t))
    storeInt(buf, t, k, intInput(t, rank, i, seed));
  else
    storeFloat(buf, t, k, floatInput(t, op, rank, nranks, i, seed));
}

void storeReduced(void* out, uint64_t k, DataType t, RedOp op, int n, uint64_t i, uint64_t seed) {
  if (isInt(t)) {
    uint64_t acc = intInput(t, 0, i, seed);
    for (int r = 1; r < n; ++r) acc = reduceInt(t, op, acc, intInput(t, r, i, seed));
    if (op == RedOp::kAvg) {
      acc = isSigned(t) ? static_cast<uint64_t>(signExtend(acc, bitsOf(t)) / n) & maskOf(t)
                        : acc / static_cast<uint64_t>(n);
    }
    storeInt(out, t, k, acc);
    return;
  }
  double acc = floatInput(t, op, 0, n, i, seed);
  for (int r = 1; r < n; ++r) {
    const double v = floatInput(t, op, r, n, i, seed);
    acc = op == RedOp::kProd  ? acc * v
          : op == RedOp::kMax ? std::max(acc, v)
          : op == RedOp::kMin ? std::min(acc, v)
                              : acc + v;
  }
  if (op == RedOp::kAvg) acc /= n;
  storeFloat(out, t, k, acc);
}

std::string compareElems(const void* got, const void* expected, DataType t, uint64_t count) {
  const size_t esz = dataTypeSize(t);
  std::string out;
  uint64_t bad = 0;
  for (uint64_t k = 0; k < count; ++k) {
    const char* g = static_cast<const char*>(got) + k * esz;
    const char* e = static_cast<const char*>(expected) + k * esz;
    if (std::memcmp(g, e, esz) == 0) continue;
    if (++bad <= 4) {
      uint64_t gv = 0, ev = 0;
      std::memcpy(&gv, g, esz);
      std::memcpy(&ev, e, esz);
      char line[128];
      std::snprintf(line, sizeof(line), " [%llu] got 0x%llx expected 0x%llx",
                    static_cast<unsigned long long>(k), static_cast<unsigned long long>(gv),
                    static_cast<unsigned long long>(ev));
      out += line;
    }
  }
  if (bad > 0) out = std::to_string(bad) + " of " + std::to_string(count) + " differ:" + out;
  return out;
}

}  // namespace plexus::exectest
