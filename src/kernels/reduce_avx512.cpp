// The AVX-512 kernel family (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq plus the
// AVX2 flags; run only where the registry found all of them). The kernels are in
// reduce_avx512_kernels.hpp; this file picks them for the table. The registry fills the AVX2
// entries first, so an entry not set here keeps its AVX2 kernel.
//
// Only the kernels that 512-bit vectors make faster are set here; the rest keep their AVX2
// kernels. Measured on AMD Zen 4 (the machine this was tuned on), the memory-bound kernels (sums
// and min/max of integers, float and double) run as fast with 256-bit vectors in L1/L2 and about
// 6% faster at L3 sizes, and 256-bit VCVTPH2PS/VCVTPS2PH beat the 512-bit forms for fp16
// (26 vs 23 GB/s in L2). 512-bit wins for bf16 (integer rounding: 19 vs 15 GB/s), fp8 (16-bit
// mask operations: 3.8 vs 2.3 GB/s) and 64-bit multiply/min/max (VPMULLQ, VPMAXSQ/UQ, which AVX2
// lacks). AVX512-FP16 is not used: that machine lacks it, so it would be untested.
//
// See reduce_kernels.hpp for the rule this file follows: nothing here has external linkage except
// fillAvx512Kernels, and no inline function of another header is called.
#include "kernels/reduce_avx512_kernels.hpp"

namespace plexus::device {
namespace {

template <class C, class Op>
void setOne(ReduceKernels& k, DataType t, RedOp op) {
  k.reduce[int(t)][int(op)] = &reduceLoop<C, Op>;
}

}  // namespace

void fillAvx512Kernels(ReduceKernels& k) {
  k.name = "avx512";
  setOne<RawInt<int64_t>, MulI64>(k, DataType::kInt64, RedOp::kProd);
  setOne<RawInt<int64_t>, MaxS64>(k, DataType::kInt64, RedOp::kMax);
  setOne<RawInt<int64_t>, MinS64>(k, DataType::kInt64, RedOp::kMin);
  setOne<RawInt<uint64_t>, MulI64>(k, DataType::kUint64, RedOp::kProd);
  setOne<RawInt<uint64_t>, MaxU64>(k, DataType::kUint64, RedOp::kMax);
  setOne<RawInt<uint64_t>, MinU64>(k, DataType::kUint64, RedOp::kMin);
  setFloatDomain<Bf16>(k, DataType::kBfloat16);
  setFloatDomain<E4M3>(k, DataType::kFp8E4M3);
  setFloatDomain<E5M2>(k, DataType::kFp8E5M2);
}

}  // namespace plexus::device
