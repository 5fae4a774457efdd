// The AVX-512 kernel family (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq plus the
// AVX2 flags; run only where the registry found all of them). The kernels are in
// reduce_avx512_kernels.hpp; this file picks them for the table. The registry fills the AVX2
// entries first, so an entry not set here keeps its AVX2 kernel.
//
// fp16 keeps the AVX2 kernels: on AMD Zen 4 (the machine this was tuned on) 256-bit
// VCVTPH2PS/VCVTPS2PH run faster than the 512-bit forms (26 vs 23 GB/s in L2; the same at DRAM
// sizes). AVX512-FP16 is not used: that machine lacks it, so it would be untested.
//
// See reduce_kernels.hpp for the rule this file follows: nothing here has external linkage except
// fillAvx512Kernels, and no inline function of another header is called.
#include "device/reduce_avx512_kernels.hpp"

namespace plexus::device {

void fillAvx512Kernels(ReduceKernels& k) {
  k.name = "avx512";
  setOps<RawInt<int8_t>, AddI8, MulI8, MaxS8, MinS8>(k, DataType::kInt8);
  setOps<RawInt<uint8_t>, AddI8, MulI8, MaxU8, MinU8>(k, DataType::kUint8);
  setOps<RawInt<int32_t>, AddI32, MulI32, MaxS32, MinS32>(k, DataType::kInt32);
  setOps<RawInt<uint32_t>, AddI32, MulI32, MaxU32, MinU32>(k, DataType::kUint32);
  setOps<RawInt<int64_t>, AddI64, MulI64, MaxS64, MinS64>(k, DataType::kInt64);
  setOps<RawInt<uint64_t>, AddI64, MulI64, MaxU64, MinU64>(k, DataType::kUint64);
  setFloatDomain<F32>(k, DataType::kFloat32);
  setFloatDomain<Bf16>(k, DataType::kBfloat16);
  setFloatDomain<E4M3>(k, DataType::kFp8E4M3);
  setFloatDomain<E5M2>(k, DataType::kFp8E5M2);
  setOps<F64, Sum, Prod, Max, Min>(k, DataType::kFloat64);
  k.divide[int(DataType::kFloat64)] = &divideLoop<F64>;
  // Integer division (finalizeAverage) keeps the scalar entries: it runs once per collective.
}

}  // namespace plexus::device
