// The portable kernel family: one element at a time, written to be obviously right. It is the
// fallback on CPUs without AVX2 and the reference that tests compare the vector families with.
//
// The element operations, codecs and their semantics are in reduce_ops.hpp, shared with the CUDA
// device kernels (cuda/reduce_device.cuh).
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/reduce_kernels.hpp"
#include "kernels/reduce_ops.hpp"

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

using namespace ops;

// ---- Loops ----

template <class Codec, class Op>
void reduceLoop(void* dst, const void* a, const void* b, size_t n) {
  using S = typename Codec::Storage;
  for (size_t i = 0; i < n; ++i) {
    storeAt<S>(dst, i, reduceElement<Codec, Op>(loadAt<S>(a, i), loadAt<S>(b, i)));
  }
}

template <class T>
void divideInt(void* dst, const void* src, size_t n, int divisor) {
  for (size_t i = 0; i < n; ++i)
    storeAt<T>(dst, i, divideIntElement<T>(loadAt<T>(src, i), divisor));
}

template <class Codec>
void divideFp(void* dst, const void* src, size_t n, int divisor) {
  using S = typename Codec::Storage;
  for (size_t i = 0; i < n; ++i)
    storeAt<S>(dst, i, divideFpElement<Codec>(loadAt<S>(src, i), divisor));
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
