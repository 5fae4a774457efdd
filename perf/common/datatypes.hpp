// The NCCL datatypes and reduction operators as the perf tools see them: nccl-tests names, sizes,
// and the numeric facts that the test-data generator and the result check rely on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "plexus/nccl.h"

namespace plexus::perf {

struct TypeInfo {
  ncclDataType_t type;
  const char* name;  // nccl-tests spelling: int8 ... half float double bfloat16 f8e4m3 f8e5m2
  size_t size;
  bool isFloat;
  bool isSigned;       // floats are signed
  int precisionBits;   // floats: significand bits including the implicit one (fp32: 24)
  int64_t exactLimit;  // every integer in [-L, L] ([0, L] unsigned) is exact in the type
  int maxPowerOfTwo;   // largest k with +-2^k exact and in range (products of test data)
  double denormMin;    // floats: smallest positive subnormal
};

// In nccl-tests order (the order of `-d all`).
const std::vector<TypeInfo>& allTypes();
const TypeInfo& typeInfo(ncclDataType_t type);
// Accepts the nccl-tests names and common aliases (fp16, float16, bf16, fp32, fp8_e4m3, ...).
std::optional<ncclDataType_t> parseTypeName(std::string_view name);

// The reduction operators of `-o all`, in nccl-tests order: sum, prod, max, min, avg.
const std::vector<ncclRedOp_t>& allOps();
const char* opName(ncclRedOp_t op);
std::optional<ncclRedOp_t> parseOpName(std::string_view name);

// Stores `value` (an integer the type represents exactly, or any double for float types, which
// is rounded to nearest even) as one element of `type` at `dst`.
void encodeElement(const TypeInfo& type, double value, void* dst);
// Integers: two's complement truncation of `value` (exact for every value the tools generate).
void encodeInteger(const TypeInfo& type, int64_t value, void* dst);
// The value of the element at `src` (exact for every type; large 64-bit integers round).
double decodeElement(const TypeInfo& type, const void* src);

}  // namespace plexus::perf
