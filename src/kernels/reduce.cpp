// Public entry points of the host reductions (reduce.hpp): argument checks, then one indirect
// call through the kernel table that the registry (reduce_registry.cpp) chose for this CPU.
#include "kernels/reduce.hpp"

#include <cstring>

#include "base/error.hpp"
#include "kernels/datatype.hpp"
#include "kernels/reduce_kernels.hpp"

namespace plexus {
namespace {

void checkType(const char* where, DataType type) {
  if (static_cast<unsigned>(type) >= unsigned(kNumDataTypes)) {
    throwError(ErrorCode::kInvalidArgument,
               "%s: datatype %d is not one of the %d NCCL datatypes (check the datatype argument)",
               where, int(type), kNumDataTypes);
  }
}

}  // namespace

void reduceBuffers(DataType type, RedOp op, void* dst, const void* a, const void* b, size_t count) {
  checkType("reduceBuffers", type);
  if (static_cast<unsigned>(op) >= unsigned(kNumRedOps)) {
    throwError(ErrorCode::kInvalidArgument,
               "reduceBuffers: reduction op %d is not sum, prod, max, min or avg (check the op "
               "argument)",
               int(op));
  }
  if (count == 0) return;
  const int kernelOp = op == RedOp::kAvg ? int(RedOp::kSum) : int(op);
  // Fewer bytes than a cache line: the scalar family. The vector families pad a partial block
  // through buffers (three variable-size copies), a fifth of a 2-rank 8-byte all-reduce; every
  // family gives the same bits (tests/kernels/reduce_families_test.cpp).
  const bool tiny = count * dataTypeSize(type) < 64;
  const kernels::ReduceKernels& k =
      tiny ? *kernels::kernelsFor(kernels::Isa::kScalar) : kernels::activeKernels();
  k.reduce[int(type)][kernelOp](dst, a, b, count);
}

void finalizeAverage(DataType type, void* dst, const void* src, size_t count, int n) {
  checkType("finalizeAverage", type);
  if (n < 1) {
    throwError(ErrorCode::kInvalidArgument,
               "finalizeAverage: cannot average over %d ranks (need at least 1)", n);
  }
  if (count == 0) return;
  if (n == 1) {
    if (dst != src) std::memcpy(dst, src, count * dataTypeSize(type));
    return;
  }
  kernels::activeKernels().divide[int(type)](dst, src, count, n);
}

const char* reduceKernelIsa() {
  return kernels::activeKernels().name;
}

}  // namespace plexus
