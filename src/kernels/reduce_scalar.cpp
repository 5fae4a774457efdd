// The portable kernel family: one element at a time, written to be obviously right. It is the
// fallback on CPUs without AVX2 and the reference that tests compare the vector families with.
//
// Semantics (shared by every family, see reduce.hpp):
//  - Integers: sum and prod wrap around modulo 2^bits (signed types are computed through their
//    unsigned type, so there is no undefined behaviour); max/min compare as signed or unsigned.
//  - float, double: one IEEE operation per element in the current rounding mode.
//  - fp16, bf16, fp8: decode both inputs to float exactly, compute in float, round once to the
//    type with float_convert.hpp (fp8 saturates to the largest finite value, like CUDA/NCCL).
//  - max/min on floating types: a NaN operand is ignored (the result is NaN only when both are),
//    like fmaxf/fminf and CUDA's __hmax/__hmin that NCCL uses; -0 counts as smaller than +0, so
//    the result never depends on the order of the operands (IEEE 754-2019 maximumNumber /
//    minimumNumber). NaN payloads of results are not specified.
//  - Division (finalizeAverage): integers truncate toward zero; floating types divide in float
//    (double for double) and round once.
#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/float_convert.hpp"
#include "kernels/reduce_kernels.hpp"

namespace plexus::kernels {
namespace {

template <class T>
T loadAt(const void* base, size_t i) {
  T v;
  std::memcpy(&v, static_cast<const unsigned char*>(base) + i * sizeof(T), sizeof(T));
  return v;
}
template <class T>
void storeAt(void* base, size_t i, T v) {
  std::memcpy(static_cast<unsigned char*>(base) + i * sizeof(T), &v, sizeof(T));
}

// ---- Integer element operations ----

template <class T>
struct IntSum {
  static T apply(T a, T b) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  }
};
template <class T>
struct IntProd {
  static T apply(T a, T b) {
    using U = std::make_unsigned_t<T>;
    // Promote narrow types to unsigned int so the multiplication itself cannot overflow an int.
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(
        static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
  }
};
template <class T>
struct IntMax {
  static T apply(T a, T b) { return a < b ? b : a; }
};
template <class T>
struct IntMin {
  static T apply(T a, T b) { return b < a ? b : a; }
};

// ---- Floating-point element operations (F = float or double) ----

template <class F>
using BitsOf = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;

template <class F>
struct FpSum {
  static F apply(F a, F b) { return a + b; }
};
template <class F>
struct FpProd {
  static F apply(F a, F b) { return a * b; }
};
template <class F>
struct FpMax {
  static F apply(F a, F b) {
    if (b != b) return a;  // NaN operands are ignored; both NaN -> a
    if (a != a) return b;
    if (a == b) {  // equal values, or +0/-0: +0 wins
      return std::bit_cast<F>(BitsOf<F>(std::bit_cast<BitsOf<F>>(a) & std::bit_cast<BitsOf<F>>(b)));
    }
    return a > b ? a : b;
  }
};
template <class F>
struct FpMin {
  static F apply(F a, F b) {
    if (b != b) return a;
    if (a != a) return b;
    if (a == b) {  // -0 wins
      return std::bit_cast<F>(BitsOf<F>(std::bit_cast<BitsOf<F>>(a) | std::bit_cast<BitsOf<F>>(b)));
    }
    return a < b ? a : b;
  }
};

// ---- Codecs: how a stored element becomes the value computed with, and back ----

template <class T>
struct Native {  // integers, float, double: computed as stored
  using Storage = T;
  using Value = T;
  static Value decode(Storage s) { return s; }
  static Storage encode(Value v) { return v; }
};

struct Half {
  using Storage = uint16_t;
  using Value = float;
  static float decode(uint16_t s) { return halfToFloat(s); }
  static uint16_t encode(float v) { return floatToHalf(v); }
};

struct Bf16 {
  using Storage = uint16_t;
  using Value = float;
  static float decode(uint16_t s) { return bf16ToFloat(s); }
  static uint16_t encode(float v) { return floatToBf16(v); }
};

template <float (*Decode)(uint8_t)>
constexpr auto makeFp8Table() {
  struct Table {
    float v[256];
  } t{};
  for (int i = 0; i < 256; ++i) t.v[i] = Decode(uint8_t(i));
  return t;
}
// fp8 decodes through 256-entry tables (built at compile time from float_convert.hpp).
constexpr auto kE4M3Table = makeFp8Table<fp8E4M3ToFloat>();
constexpr auto kE5M2Table = makeFp8Table<fp8E5M2ToFloat>();

struct E4M3 {
  using Storage = uint8_t;
  using Value = float;
  static float decode(uint8_t s) { return kE4M3Table.v[s]; }
  static uint8_t encode(float v) { return floatToFp8E4M3(v); }
};

struct E5M2 {
  using Storage = uint8_t;
  using Value = float;
  static float decode(uint8_t s) { return kE5M2Table.v[s]; }
  static uint8_t encode(float v) { return floatToFp8E5M2(v); }
};

// ---- Loops ----

template <class Codec, class Op>
void reduceLoop(void* dst, const void* a, const void* b, size_t n) {
  using S = typename Codec::Storage;
  for (size_t i = 0; i < n; ++i) {
    const auto x = Codec::decode(loadAt<S>(a, i));
    const auto y = Codec::decode(loadAt<S>(b, i));
    storeAt<S>(dst, i, Codec::encode(Op::apply(x, y)));
  }
}

template <class T>
void divideInt(void* dst, const void* src, size_t n, int divisor) {
  // Integer division in C++ truncates toward zero. The divisor is >= 1, so no overflow.
  using D = std::conditional_t<(sizeof(T) < sizeof(int)), int, T>;
  const D d = static_cast<D>(divisor);
  for (size_t i = 0; i < n; ++i) storeAt<T>(dst, i, static_cast<T>(D(loadAt<T>(src, i)) / d));
}

template <class Codec>
void divideFp(void* dst, const void* src, size_t n, int divisor) {
  using S = typename Codec::Storage;
  using V = typename Codec::Value;
  const V d = static_cast<V>(divisor);
  for (size_t i = 0; i < n; ++i)
    storeAt<S>(dst, i, Codec::encode(Codec::decode(loadAt<S>(src, i)) / d));
}

template <class Codec>
void toFloatLoop(float* dst, const void* src, size_t n) {
  using S = typename Codec::Storage;
  for (size_t i = 0; i < n; ++i) storeAt<float>(dst, i, Codec::decode(loadAt<S>(src, i)));
}

template <class Codec>
void fromFloatLoop(void* dst, const float* src, size_t n) {
  using S = typename Codec::Storage;
  for (size_t i = 0; i < n; ++i) storeAt<S>(dst, i, Codec::encode(loadAt<float>(src, i)));
}

template <class T>
void fillInt(ReduceKernels& k, DataType t) {
  auto& r = k.reduce[int(t)];
  r[int(RedOp::kSum)] = &reduceLoop<Native<T>, IntSum<T>>;
  r[int(RedOp::kProd)] = &reduceLoop<Native<T>, IntProd<T>>;
  r[int(RedOp::kMax)] = &reduceLoop<Native<T>, IntMax<T>>;
  r[int(RedOp::kMin)] = &reduceLoop<Native<T>, IntMin<T>>;
  k.divide[int(t)] = &divideInt<T>;
}

template <class Codec>
void fillFp(ReduceKernels& k, DataType t) {
  using V = typename Codec::Value;
  auto& r = k.reduce[int(t)];
  r[int(RedOp::kSum)] = &reduceLoop<Codec, FpSum<V>>;
  r[int(RedOp::kProd)] = &reduceLoop<Codec, FpProd<V>>;
  r[int(RedOp::kMax)] = &reduceLoop<Codec, FpMax<V>>;
  r[int(RedOp::kMin)] = &reduceLoop<Codec, FpMin<V>>;
  k.divide[int(t)] = &divideFp<Codec>;
  if constexpr (std::is_same_v<V, float>) {
    k.toFloat[int(t)] = &toFloatLoop<Codec>;
    k.fromFloat[int(t)] = &fromFloatLoop<Codec>;
  }
}

}  // namespace

void fillScalarKernels(ReduceKernels& k) {
  k.name = "scalar";
  fillInt<int8_t>(k, DataType::kInt8);
  fillInt<uint8_t>(k, DataType::kUint8);
  fillInt<int32_t>(k, DataType::kInt32);
  fillInt<uint32_t>(k, DataType::kUint32);
  fillInt<int64_t>(k, DataType::kInt64);
  fillInt<uint64_t>(k, DataType::kUint64);
  fillFp<Half>(k, DataType::kFloat16);
  fillFp<Native<float>>(k, DataType::kFloat32);
  fillFp<Native<double>>(k, DataType::kFloat64);
  fillFp<Bf16>(k, DataType::kBfloat16);
  fillFp<E4M3>(k, DataType::kFp8E4M3);
  fillFp<E5M2>(k, DataType::kFp8E5M2);
}

}  // namespace plexus::kernels
