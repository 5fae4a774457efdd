// Inputs and exact expected results for the step-interpreter tests, every datatype and op.
// Integers: arbitrary bits, wrap-around arithmetic (order-independent, so exact), avg as the
// wrapped sum divided truncating. Floating types: small integers chosen so that every partial
// result of any reduction order is exactly representable, even in fp8 e5m2:
//   sum/avg: b(i) + e(r, i), where e is +1 on one rank and -1 on another, so every partial sum of
//            k < n ranks lies within [k*b - 1, k*b + 1] <= n*b and the total is n*b (avg: b);
//   prod:    +-1 or +-2 with at most two factors of 2 per element;
//   max/min: integers in a small symmetric range.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plexus/types.hpp"

namespace plexus::exectest {

// Writes, at element k of `buf`, element i of rank `rank`'s input.
void storeInput(void* buf, uint64_t k, DataType t, RedOp op, int rank, int nranks, uint64_t i,
                uint64_t seed);
// Writes, at element k of `out`, the reduction over all ranks of input element i.
void storeReduced(void* out, uint64_t k, DataType t, RedOp op, int nranks, uint64_t i,
                  uint64_t seed);
// "element 17: got 0x0003 expected 0x0004" for the first few differing elements; "" if equal.
std::string compareElems(const void* got, const void* expected, DataType t, uint64_t count);

}  // namespace plexus::exectest
