// Conversions between double and the narrow floating-point formats of the NCCL API: IEEE
// binary16 ("half"), bfloat16, and OCP FP8 E4M3 (no infinities) and E5M2. The perf tools use them
// to write test data and to read results; they depend only on the public API, so they carry their
// own copy instead of Plexus's internal kernels.
//
// Encoding rounds to nearest, ties to even. Overflow gives infinity for half, bfloat16 and E5M2
// and saturates to +-448 for E4M3 (which has no infinity); NaN encodes as a quiet NaN. Decoding is
// exact (every value of these formats is a double).
#pragma once

#include <cstdint>

namespace plexus::perf {

enum class NarrowFloat { kHalf, kBfloat16, kE4M3, kE5M2 };

uint32_t encodeNarrow(NarrowFloat format, double value);
double decodeNarrow(NarrowFloat format, uint32_t bits);

}  // namespace plexus::perf
