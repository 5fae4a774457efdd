// Narrow float encode/decode (see float_formats.hpp).
#include "common/float_formats.hpp"

#include <cmath>

namespace plexus::perf {
namespace {

struct Format {
  int manBits;
  int expBits;
  int bias;
  bool ieeeSpecials;  // all-ones exponent means inf (mantissa 0) or NaN (IEEE-like)
};

Format formatOf(NarrowFloat f) {
  switch (f) {
    case NarrowFloat::kHalf:
      return {10, 5, 15, true};
    case NarrowFloat::kBfloat16:
      return {7, 8, 127, true};
    case NarrowFloat::kE4M3:
      return {3, 4, 7, false};
    case NarrowFloat::kE5M2:
      return {2, 5, 15, true};
  }
  return {10, 5, 15, true};
}

// Round to nearest integer, ties to even, without depending on the FP rounding mode.
double roundHalfEven(double x) {
  double f = std::floor(x);
  double diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1;
}

}  // namespace

uint32_t encodeNarrow(NarrowFloat format, double value) {
  const Format f = formatOf(format);
  const uint32_t signBit = 1u << (f.manBits + f.expBits);
  const uint32_t expAllOnes = (1u << f.expBits) - 1;
  const uint32_t inf = expAllOnes << f.manBits;
  // Largest finite magnitude encoding: E4M3 reserves all-ones exponent + all-ones mantissa (NaN).
  const uint32_t maxFinite = f.ieeeSpecials ? inf - 1 : inf | ((1u << f.manBits) - 2);
  const uint32_t nan =
      f.ieeeSpecials ? inf | (1u << (f.manBits - 1)) : inf | ((1u << f.manBits) - 1);
  if (std::isnan(value)) return nan;
  const uint32_t sign = std::signbit(value) ? signBit : 0;
  double a = std::fabs(value);
  uint32_t mag;
  if (std::isinf(a)) {
    mag = f.ieeeSpecials ? inf : maxFinite;
  } else if (a == 0.0) {
    mag = 0;
  } else {
    int e2;
    std::frexp(a, &e2);
    int e = e2 - 1;  // a = 1.x * 2^e
    const int emin = 1 - f.bias;
    if (e < emin) {
      // Subnormal: multiples of 2^(emin - manBits). A carry into 2^manBits is the smallest normal.
      mag = static_cast<uint32_t>(roundHalfEven(std::ldexp(a, f.manBits - emin)));
    } else {
      double n = roundHalfEven(std::ldexp(a, f.manBits - e));  // in [2^m, 2^(m+1)]
      if (n >= std::ldexp(1.0, f.manBits + 1)) {
        n /= 2;
        ++e;
      }
      const int64_t field = e + f.bias;
      if (field >= static_cast<int64_t>(expAllOnes) + (f.ieeeSpecials ? 0 : 1)) {
        mag = f.ieeeSpecials ? inf : maxFinite + 1;  // overflow; E4M3 clamps below
      } else {
        mag = (static_cast<uint32_t>(field) << f.manBits) |
              (static_cast<uint32_t>(n) - (1u << f.manBits));
      }
    }
    if (mag > maxFinite && !(f.ieeeSpecials && mag == inf)) mag = f.ieeeSpecials ? inf : maxFinite;
  }
  return sign | mag;
}

double decodeNarrow(NarrowFloat format, uint32_t bits) {
  const Format f = formatOf(format);
  const uint32_t expAllOnes = (1u << f.expBits) - 1;
  const uint32_t manMask = (1u << f.manBits) - 1;
  const bool negative = (bits >> (f.manBits + f.expBits)) & 1u;
  const uint32_t exp = (bits >> f.manBits) & expAllOnes;
  const uint32_t man = bits & manMask;
  double v;
  if (f.ieeeSpecials && exp == expAllOnes) {
    v = man == 0 ? INFINITY : NAN;
  } else if (!f.ieeeSpecials && exp == expAllOnes && man == manMask) {
    v = NAN;
  } else if (exp == 0) {
    v = std::ldexp(static_cast<double>(man), 1 - f.bias - f.manBits);
  } else {
    v = std::ldexp(static_cast<double>(man | (1u << f.manBits)),
                   static_cast<int>(exp) - f.bias - f.manBits);
  }
  return negative ? -v : v;
}

}  // namespace plexus::perf
