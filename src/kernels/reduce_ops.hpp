// The element operations and codecs of every reduction, shared by the portable host kernels
// (reduce_scalar.cpp) and the CUDA device kernels (cuda/reduce_device.cuh), so that both compute
// the same bits. Semantics (every host family and the device follow them, see reduce.hpp):
//  - Integers: sum and prod wrap around modulo 2^bits (signed types are computed through their
//    unsigned type, so there is no undefined behaviour); max/min compare as signed or unsigned.
//  - float, double: one IEEE operation per element, round to nearest.
//  - fp16, bf16, fp8: decode both inputs to float exactly, compute in float, round once to the
//    type with float_convert.hpp (fp8 saturates to the largest finite value, like CUDA/NCCL).
//  - max/min on floating types: a NaN operand is ignored (the result is NaN only when both are),
//    like fmaxf/fminf and CUDA's __hmax/__hmin that NCCL uses; -0 counts as smaller than +0, so
//    the result never depends on the order of the operands (IEEE 754-2019 maximumNumber /
//    minimumNumber). NaN payloads of results are not specified.
//  - Division (the kAvg finalize): integers truncate toward zero; floating types divide in float
//    (double for double) and round once.
// Device code must be compiled without -ftz=true / --use_fast_math (subnormals are values here).
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/float_convert.hpp"
#include "kernels/host_device.hpp"

namespace plexus::kernels::ops {

// ---- Integer element operations ----

template <class T>
struct IntSum {
  PLEXUS_HD static T apply(T a, T b) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  }
};
template <class T>
struct IntProd {
  PLEXUS_HD static T apply(T a, T b) {
    using U = std::make_unsigned_t<T>;
    // Promote narrow types to unsigned int so the multiplication itself cannot overflow an int.
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(
        static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
  }
};
template <class T>
struct IntMax {
  PLEXUS_HD static T apply(T a, T b) { return a < b ? b : a; }
};
template <class T>
struct IntMin {
  PLEXUS_HD static T apply(T a, T b) { return b < a ? b : a; }
};

// ---- Floating-point element operations (F = float or double) ----

template <class F>
using BitsOf = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;

template <class F>
struct FpSum {
  PLEXUS_HD static F apply(F a, F b) { return a + b; }
};
template <class F>
struct FpProd {
  PLEXUS_HD static F apply(F a, F b) { return a * b; }
};
template <class F>
struct FpMax {
  PLEXUS_HD static F apply(F a, F b) {
    if (b != b) return a;  // NaN operands are ignored; both NaN -> a
    if (a != a) return b;
    if (a == b) {  // equal values, or +0/-0: +0 wins
      return bitCast<F>(BitsOf<F>(bitCast<BitsOf<F>>(a) & bitCast<BitsOf<F>>(b)));
    }
    return a > b ? a : b;
  }
};
template <class F>
struct FpMin {
  PLEXUS_HD static F apply(F a, F b) {
    if (b != b) return a;
    if (a != a) return b;
    if (a == b) {  // -0 wins
      return bitCast<F>(BitsOf<F>(bitCast<BitsOf<F>>(a) | bitCast<BitsOf<F>>(b)));
    }
    return a < b ? a : b;
  }
};

// ---- Codecs: how a stored element becomes the value computed with, and back ----

template <class T>
struct Native {  // integers, float, double: computed as stored
  using Storage = T;
  using Value = T;
  PLEXUS_HD static Value decode(Storage s) { return s; }
  PLEXUS_HD static Storage encode(Value v) { return v; }
};

struct Half {
  using Storage = uint16_t;
  using Value = float;
  PLEXUS_HD static float decode(uint16_t s) { return halfToFloat(s); }
  PLEXUS_HD static uint16_t encode(float v) { return floatToHalf(v); }
};

struct Bf16 {
  using Storage = uint16_t;
  using Value = float;
  PLEXUS_HD static float decode(uint16_t s) { return bf16ToFloat(s); }
  PLEXUS_HD static uint16_t encode(float v) { return floatToBf16(v); }
};

// On the host fp8 decodes through 256-entry tables built at compile time from float_convert.hpp;
// device code calls the same conversion directly (host tables are not visible there).
struct Fp8Table {
  float v[256];
};
template <float (*Decode)(uint8_t)>
constexpr Fp8Table makeFp8Table() {
  Fp8Table t{};
  for (int i = 0; i < 256; ++i) t.v[i] = Decode(uint8_t(i));
  return t;
}
#if !defined(__CUDA_ARCH__)
inline constexpr Fp8Table kE4M3Table = makeFp8Table<fp8E4M3ToFloat>();
inline constexpr Fp8Table kE5M2Table = makeFp8Table<fp8E5M2ToFloat>();
#endif

struct E4M3 {
  using Storage = uint8_t;
  using Value = float;
  PLEXUS_HD static float decode(uint8_t s) {
#if defined(__CUDA_ARCH__)
    return fp8E4M3ToFloat(s);
#else
    return kE4M3Table.v[s];
#endif
  }
  PLEXUS_HD static uint8_t encode(float v) {
    return floatToFp8E4M3(v);
  }
};

struct E5M2 {
  using Storage = uint8_t;
  using Value = float;
  PLEXUS_HD static float decode(uint8_t s) {
#if defined(__CUDA_ARCH__)
    return fp8E5M2ToFloat(s);
#else
    return kE5M2Table.v[s];
#endif
  }
  PLEXUS_HD static uint8_t encode(float v) {
    return floatToFp8E5M2(v);
  }
};

// ---- One element of each loop ----

template <class Codec, class Op>
PLEXUS_HD typename Codec::Storage reduceElement(typename Codec::Storage a,
                                                typename Codec::Storage b) {
  return Codec::encode(Op::apply(Codec::decode(a), Codec::decode(b)));
}

// Integer division truncates toward zero. The divisor is >= 1, so it cannot overflow.
template <class T>
PLEXUS_HD T divideIntElement(T v, int divisor) {
  using D = std::conditional_t<(sizeof(T) < sizeof(int)), int, T>;
  return static_cast<T>(D(v) / static_cast<D>(divisor));
}

template <class Codec>
PLEXUS_HD typename Codec::Storage divideFpElement(typename Codec::Storage v, int divisor) {
  using V = typename Codec::Value;
  return Codec::encode(Codec::decode(v) / static_cast<V>(divisor));
}

}  // namespace plexus::kernels::ops
