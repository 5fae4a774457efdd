// Test data and reference results for every datatype and reduction op. Integer results are exact
// (wrap-around arithmetic, which is order-independent). Float inputs are small integers chosen so
// that every partial result is exactly representable (fp8 e5m2 uses {-1,0,1}), which makes sum,
// prod, min and max exact in every type regardless of reduction order; avg (a division) is checked
// to within one unit in the last place of the type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "plexus/types.hpp"

namespace plexus::testing {

// Fills `count` elements of `type` at `buf` with rank `rank`'s input for `op`.
void fillInput(void* buf, DataType type, RedOp op, int rank, int nranks, size_t count,
               uint64_t seed);
// Fills with arbitrary bytes (for data-movement collectives), deterministic per (rank, seed).
void fillBytes(void* buf, size_t bytes, int rank, uint64_t seed);
// The reduction of every rank's fillInput, element by element.
std::vector<unsigned char> expectedReduction(DataType type, RedOp op, int nranks, size_t count,
                                             uint64_t seed, size_t offset = 0);
// Compares `count` elements; returns "" or a description of the first mismatches.
std::string compareResult(const void* got, const void* expected, DataType type, RedOp op,
                          size_t count, bool reduced);

}  // namespace plexus::testing
