// Test data and result checking of the perf tools.
//
// Every rank's input is a deterministic pattern of exact integers, a function of (rank, block,
// element, check iteration), so every rank can compute what any rank sent and what a result must
// be without communicating. Inputs repeat with a period of kPatternPeriod elements (a prime, so
// that power-of-two chunking bugs cannot hide behind the period); filling and checking cost O(1)
// per element whatever the number of ranks.
//
// The values are chosen per operation so that results are exact and overflow cannot occur:
//  - sum/avg: values in [-a, a] (unsigned: [0, a]) with a = L / (contributors per element),
//    where L is the largest integer the type holds exactly (int8 127, half 2048, bfloat16 256,
//    f8e4m3 16, f8e5m2 8, ...). Every partial sum, in any order, is then exact. When there are
//    more ranks than L, each element takes contributions from every K-th rank only.
//  - prod: mostly 1, with 2 for a bounded number of ranks per element (so the product stays
//    within the type: at most 6 twos for int8, 8 for f8e4m3, ...) and, for signed types, -1/-2.
//  - max/min and the non-reducing collectives: values spread over [-L, L] (unsigned [0, L]).
//
// Result check (#wrong counts elements, summed over ranks):
//  - sum, prod, max, min and the copies, every type, floats included: exact. The data makes every
//    partial result exactly representable, so any evaluation order, with rounding after every
//    step, gives the exact result; a tolerance would only hide errors (in f8e4m3 a tolerance of
//    (n-1) u sum|x| would accept a lost contribution).
//  - float avg: |got - sum/n| <= (n+2) * u * sum|x| / n + n * smallest subnormal, where
//    u = 2^-precision (2^-53 double, 2^-24 float, 2^-11 half, 2^-8 bfloat16, 2^-4 f8e4m3,
//    2^-3 f8e5m2). This covers pre-multiplying each input by 1/n in the type (NCCL's way: one
//    rounding of 1/n, one of each product, one of each addition) and summing then dividing. In
//    the fp8 types this bound is wide (a few tenths of sum|x|), so their avg check is weak; the
//    exact sum check covers the same data path.
//  - integer avg: exactly sum / n rounded toward zero (NCCL's integer average);
//  - out-of-place calls must leave the send buffer unchanged and must not write past the end of
//    the result; reduce and gather must not write the receive buffer of non-root ranks. Each
//    element changed there counts as wrong too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/collectives.hpp"
#include "common/datatypes.hpp"

namespace plexus::perf {

inline constexpr size_t kPatternPeriod = 4093;

enum class PatternKind { kSum, kProd, kMinMax, kCopy };
PatternKind patternKind(bool reduces, ncclRedOp_t op);

class Pattern {
 public:
  Pattern(const TypeInfo& type, PatternKind kind, int nranks, uint64_t iteration);

  // Exact value of element k (k < kPatternPeriod) of input block `block` of `rank`.
  int64_t value(int rank, int block, size_t k) const;

  const TypeInfo& type() const { return type_; }
  PatternKind kind() const { return kind_; }
  int nranks() const { return nranks_; }
  int64_t amplitude() const { return amp_; }
  int sparseStride() const { return sparse_; }
  int twosStride() const { return twos_; }

 private:
  const TypeInfo& type_;
  PatternKind kind_;
  int nranks_;
  uint64_t seed_;
  int64_t amp_ = 1;
  int sparse_ = 1;  // sum: rank r contributes to element k only when (k + r) % sparse_ == 0
  int twos_ = 2;    // prod: rank r has a 2 at element k when (k + r + block) % twos_ == 0
};

// One period (min(count, kPatternPeriod) elements) of an input block, encoded in the type.
std::vector<unsigned char> inputTable(const Pattern& p, int rank, int block, size_t n);

// One period of an expected output block.
struct ExpectedTable {
  std::vector<unsigned char> bytes;  // expected elements, encoded
  std::vector<double> value;         // expected values
  std::vector<double> tolerance;     // allowed |got - value| (0: exact)
  bool exact = true;                 // every tolerance is 0 and bytes can be compared directly
};

ExpectedTable expectedTable(const Pattern& p, const BlockSource& source, ncclRedOp_t op, size_t n);

// Writes `count` elements repeating the table (a period of `table.size() / typeSize` elements).
void fillRepeated(void* dst, size_t count, const std::vector<unsigned char>& table,
                  size_t typeSize);

struct Mismatch {
  size_t index = 0;
  double got = 0;
  double expected = 0;
};

// Number of elements of data[0..count) that do not match the expected (repeated) table; the
// first one is stored in *first when it is still empty.
size_t checkBlock(const TypeInfo& type, const void* data, size_t count,
                  const ExpectedTable& expected, std::optional<Mismatch>* first);

// Number of elements of data[0..count) that differ from the repeated raw table (bitwise).
size_t countChanged(const void* data, size_t count, const std::vector<unsigned char>& table,
                    size_t typeSize);

// The byte pattern written where nothing may be written (guard areas, unused receive buffers).
inline constexpr unsigned char kSentinelByte = 0xA5;

}  // namespace plexus::perf
