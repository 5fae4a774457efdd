// Internal interface of the host reduction kernels: one table of function pointers per
// instruction-set family (portable scalar, AVX2, AVX-512), so that tests and benchmarks can run
// every family this CPU supports, and reduce.cpp can dispatch through the best one.
//
// The registry (reduce_registry.cpp) is the one place that decides which family runs: it builds
// the tables once, on first use, from the CPU's features (__builtin_cpu_supports) and
// PLEXUS_REDUCE_ISA, and never changes them afterwards.
//
// Rule for the vector families: reduce_avx2.cpp, reduce_avx512.cpp and reduce_avx512bf16.cpp are
// compiled with ISA flags. They must not define or instantiate any function with external linkage
// other than their fill*Kernels entry point (everything else lives in an anonymous namespace,
// including the shared body reduce_simd.hpp and the vector traits vec_avx2.hpp/vec_avx512.hpp),
// and must not call inline functions from other headers (std:: templates, float_convert.hpp): the
// linker could keep their AVX-512 copy for callers on CPUs without AVX-512. The test
// kernels_isa_symbols checks the built objects for this.
#pragma once

#include <cstddef>

#include "kernels/datatype.hpp"

namespace plexus::kernels {

// Ordered from least to most capable; each family's table starts from the one before it (an entry
// a family does not set keeps the previous family's kernel).
enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3 };
constexpr int kNumIsas = 4;

// dst[i] = a[i] op b[i]; dst may alias a or b exactly.
using ReduceFn = void (*)(void* dst, const void* a, const void* b, size_t count);
// dst[i] = src[i] / n (n >= 1); dst may alias src.
using DivideFn = void (*)(void* dst, const void* src, size_t count, int n);
// Element conversions for the types computed in float (fp16, bf16, fp8 kinds, float).
using ToFloatFn = void (*)(float* dst, const void* src, size_t count);
using FromFloatFn = void (*)(void* dst, const float* src, size_t count);

// Ops that have a kernel of their own (kAvg reduces with the kSum kernel).
constexpr int kNumKernelOps = 4;  // kSum, kProd, kMax, kMin: the RedOp values 0..3

struct ReduceKernels {
  const char* name;  // "scalar", "avx2", "avx512", "avx512bf16"
  ReduceFn reduce[kNumDataTypes][kNumKernelOps];
  DivideFn divide[kNumDataTypes];
  ToFloatFn toFloat[kNumDataTypes];      // null for types not computed in float
  FromFloatFn fromFloat[kNumDataTypes];  // null for types not computed in float
};

// The table of one family, or null when this build or this CPU lacks it. Every entry of a
// non-null table is set (vector families fall back to scalar entries where they add nothing).
const ReduceKernels* kernelsFor(Isa isa);

// The family reduceBuffers() uses: the best one this CPU supports, unless PLEXUS_REDUCE_ISA
// asks for another (a request the CPU cannot run falls back to the best, with a warning).
const ReduceKernels& activeKernels();

const char* isaName(Isa isa);

// Used by the registry only: each family writes the entries it implements into a table that
// holds the previous family's entries. Defined in reduce_scalar.cpp, reduce_avx2.cpp,
// reduce_avx512.cpp, reduce_avx512bf16.cpp.
void fillScalarKernels(ReduceKernels& table);
void fillAvx2Kernels(ReduceKernels& table);
void fillAvx512Kernels(ReduceKernels& table);
void fillAvx512Bf16Kernels(ReduceKernels& table);

}  // namespace plexus::kernels
