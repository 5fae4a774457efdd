// Host reduction kernels for every datatype and operation (vectorized, runtime CPU dispatch).
// The engine reduces straight out of transport slots with these.
#pragma once

#include <cstddef>

#include "kernels/datatype.hpp"

namespace plexus {

// dst[i] = a[i] (op) b[i] for i < count. dst may alias a or b (exactly, not partially).
// kAvg reduces as kSum; the division happens in finalizeAverage. fp16/bf16/fp8 are computed in
// float and rounded to nearest-even once per call, as NCCL does per reduction step.
void reduceBuffers(DataType type, RedOp op, void* dst, const void* a, const void* b, size_t count);

// dst[i] = src[i] / n: the final step of kAvg (integers: division truncating toward zero).
// dst may alias src.
void finalizeAverage(DataType type, void* dst, const void* src, size_t count, int n);

// Which kernel family runs here ("avx512", "avx2", "scalar"), for logs and benchmarks.
const char* reduceKernelIsa();

}  // namespace plexus
