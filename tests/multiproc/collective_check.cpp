// Reference values for the collective tests.
#include "tests/multiproc/collective_check.hpp"

#include <cmath>
#include <cstring>

#include "kernels/datatype.hpp"
#include "kernels/float_convert.hpp"

namespace plexus::testing {
namespace {

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

bool isInt(DataType t) {
  return !isFloatingPoint(t);
}
bool isSignedInt(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt32 || t == DataType::kInt64;
}
unsigned bits(DataType t) {
  return static_cast<unsigned>(dataTypeSize(t) * 8);
}
uint64_t mask(DataType t) {
  return bits(t) == 64 ? ~0ull : ((1ull << bits(t)) - 1);
}

int64_t signExtend(uint64_t v, unsigned b) {
  if (b == 64) return static_cast<int64_t>(v);
  uint64_t m = 1ull << (b - 1);
  v &= (1ull << b) - 1;
  return static_cast<int64_t>((v ^ m) - m);
}

void storeInt(void* p, DataType t, size_t i, uint64_t v) {
  std::memcpy(static_cast<char*>(p) + i * dataTypeSize(t), &v, dataTypeSize(t));  // little endian
}
uint64_t loadInt(const void* p, DataType t, size_t i) {
  uint64_t v = 0;
  std::memcpy(&v, static_cast<const char*>(p) + i * dataTypeSize(t), dataTypeSize(t));
  return v;
}

void storeFloat(void* p, DataType t, size_t i, double v) {
  char* b = static_cast<char*>(p) + i * dataTypeSize(t);
  switch (t) {
    case DataType::kFloat64:
      std::memcpy(b, &v, 8);
      break;
    case DataType::kFloat32: {
      float f = static_cast<float>(v);
      std::memcpy(b, &f, 4);
      break;
    }
    case DataType::kFloat16: {
      uint16_t h = floatToHalf(static_cast<float>(v));
      std::memcpy(b, &h, 2);
      break;
    }
    case DataType::kBfloat16: {
      uint16_t h = floatToBf16(static_cast<float>(v));
      std::memcpy(b, &h, 2);
      break;
    }
    case DataType::kFp8E4M3:
      *reinterpret_cast<uint8_t*>(b) = floatToFp8E4M3(static_cast<float>(v));
      break;
    case DataType::kFp8E5M2:
      *reinterpret_cast<uint8_t*>(b) = floatToFp8E5M2(static_cast<float>(v));
      break;
    default:
      break;
  }
}
double loadFloat(const void* p, DataType t, size_t i) {
  const char* b = static_cast<const char*>(p) + i * dataTypeSize(t);
  switch (t) {
    case DataType::kFloat64: {
      double d;
      std::memcpy(&d, b, 8);
      return d;
    }
    case DataType::kFloat32: {
      float f;
      std::memcpy(&f, b, 4);
      return f;
    }
    case DataType::kFloat16: {
      uint16_t h;
      std::memcpy(&h, b, 2);
      return halfToFloat(h);
    }
    case DataType::kBfloat16: {
      uint16_t h;
      std::memcpy(&h, b, 2);
      return bf16ToFloat(h);
    }
    case DataType::kFp8E4M3:
      return fp8E4M3ToFloat(*reinterpret_cast<const uint8_t*>(b));
    case DataType::kFp8E5M2:
      return fp8E5M2ToFloat(*reinterpret_cast<const uint8_t*>(b));
    default:
      return 0;
  }
}

// Small-integer float inputs (see the header comment).
double floatInput(DataType t, RedOp op, int rank, int nranks, size_t i, uint64_t seed) {
  uint64_t h = mix(seed * 1000003 + static_cast<uint64_t>(rank) * 7919 + i);
  switch (op) {
    case RedOp::kSum:
    case RedOp::kAvg:
      if (t == DataType::kFp8E5M2) return static_cast<double>(h % 3) - 1;
      return static_cast<double>(h % 5) - 2;
    case RedOp::kProd: {
      if ((i + static_cast<size_t>(rank)) % static_cast<size_t>(3 * nranks + 1) == 0) return 2;
      return (h & 1) ? -1 : 1;
    }
    case RedOp::kMax:
    case RedOp::kMin:
      return static_cast<double>(h % 17) - 8;
  }
  return 0;
}

uint64_t intInput(DataType t, int rank, size_t i, uint64_t seed) {
  return mix(seed * 1000003 + static_cast<uint64_t>(rank) * 104729 + i * 31) & mask(t);
}

// Unit in the last place of `v` in type t (for the avg tolerance).
double ulpOf(DataType t, double v) {
  int mant = t == DataType::kFloat64    ? 52
             : t == DataType::kFloat32  ? 23
             : t == DataType::kFloat16  ? 10
             : t == DataType::kBfloat16 ? 7
             : t == DataType::kFp8E4M3  ? 3
                                        : 2;
  double minNormal = t == DataType::kFloat64    ? 2.2250738585072014e-308
                     : t == DataType::kFloat32  ? 1.1754943508222875e-38
                     : t == DataType::kFloat16  ? 6.103515625e-05
                     : t == DataType::kBfloat16 ? 1.1754943508222875e-38
                     : t == DataType::kFp8E4M3  ? 0.015625
                                                : 6.103515625e-05;
  double a = std::max(std::fabs(v), minNormal);
  int e;
  std::frexp(a, &e);
  return std::ldexp(1.0, e - 1 - mant);
}

std::string formatElem(size_t i, uint64_t got, uint64_t expected) {
  return "  [" + std::to_string(i) + "] got " + std::to_string(got) + " expected " +
         std::to_string(expected) + "\n";
}

}  // namespace

void fillInput(void* buf, DataType type, RedOp op, int rank, int nranks, size_t count,
               uint64_t seed) {
  for (size_t i = 0; i < count; ++i) {
    if (isInt(type))
      storeInt(buf, type, i, intInput(type, rank, i, seed));
    else
      storeFloat(buf, type, i, floatInput(type, op, rank, nranks, i, seed));
  }
}

void fillBytes(void* buf, size_t bytes, int rank, uint64_t seed) {
  auto* p = static_cast<unsigned char*>(buf);
  for (size_t i = 0; i < bytes; ++i)
    p[i] = static_cast<unsigned char>(
        mix(seed * 31 + static_cast<uint64_t>(rank) * 65537 + i / 8) >> (8 * (i % 8)));
}

std::vector<unsigned char> expectedReduction(DataType type, RedOp op, int nranks, size_t count,
                                             uint64_t seed, size_t offset) {
  std::vector<unsigned char> out(count * dataTypeSize(type));
  for (size_t k = 0; k < count; ++k) {
    size_t i = offset + k;
    if (isInt(type)) {
      const unsigned b = bits(type);
      const bool sgn = isSignedInt(type);
      uint64_t acc = intInput(type, 0, i, seed);
      for (int r = 1; r < nranks; ++r) {
        uint64_t v = intInput(type, r, i, seed);
        switch (op) {
          case RedOp::kSum:
          case RedOp::kAvg:
            acc = (acc + v) & mask(type);
            break;
          case RedOp::kProd:
            acc = (acc * v) & mask(type);
            break;
          case RedOp::kMax:
            if (sgn ? signExtend(v, b) > signExtend(acc, b) : v > acc) acc = v;
            break;
          case RedOp::kMin:
            if (sgn ? signExtend(v, b) < signExtend(acc, b) : v < acc) acc = v;
            break;
        }
      }
      if (op == RedOp::kAvg) {
        if (sgn)
          acc = static_cast<uint64_t>(signExtend(acc, b) / nranks) & mask(type);
        else
          acc = acc / static_cast<uint64_t>(nranks);
      }
      storeInt(out.data(), type, k, acc);
    } else {
      double acc = floatInput(type, op, 0, nranks, i, seed);
      for (int r = 1; r < nranks; ++r) {
        double v = floatInput(type, op, r, nranks, i, seed);
        switch (op) {
          case RedOp::kSum:
          case RedOp::kAvg:
            acc += v;
            break;
          case RedOp::kProd:
            acc *= v;
            break;
          case RedOp::kMax:
            acc = std::max(acc, v);
            break;
          case RedOp::kMin:
            acc = std::min(acc, v);
            break;
        }
      }
      if (op == RedOp::kAvg) acc /= nranks;
      storeFloat(out.data(), type, k, acc);
    }
  }
  return out;
}

std::string compareResult(const void* got, const void* expected, DataType type, RedOp op,
                          size_t count, bool reduced) {
  std::string msg;
  int shown = 0;
  size_t bad = 0;
  const size_t esz = dataTypeSize(type);
  for (size_t i = 0; i < count; ++i) {
    bool ok;
    if (!reduced || isInt(type) || op != RedOp::kAvg) {
      ok = std::memcmp(static_cast<const char*>(got) + i * esz,
                       static_cast<const char*>(expected) + i * esz, esz) == 0;
      // +0 and -0 are equal results of a float reduction.
      if (!ok && reduced && !isInt(type))
        ok = loadFloat(got, type, i) == loadFloat(expected, type, i);
    } else {
      double g = loadFloat(got, type, i), e = loadFloat(expected, type, i);
      ok = std::fabs(g - e) <= ulpOf(type, e);
    }
    if (!ok) {
      ++bad;
      if (shown++ < 5) {
        if (isInt(type))
          msg += formatElem(i, loadInt(got, type, i), loadInt(expected, type, i));
        else
          msg += "  [" + std::to_string(i) + "] got " + std::to_string(loadFloat(got, type, i)) +
                 " expected " + std::to_string(loadFloat(expected, type, i)) + "\n";
      }
    }
  }
  if (bad > 0)
    msg = std::to_string(bad) + " of " + std::to_string(count) + " elements wrong:\n" + msg;
  return msg;
}

}  // namespace plexus::testing
