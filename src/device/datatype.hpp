// Datatypes and reduction operations, with the values of ncclDataType_t and ncclRedOp_t.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace plexus {

enum class DataType : uint8_t {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kFloat16 = 6,
  kFloat32 = 7,
  kFloat64 = 8,
  kBfloat16 = 9,
  kFp8E4M3 = 10,
  kFp8E5M2 = 11,
};
constexpr int kNumDataTypes = 12;

enum class RedOp : uint8_t { kSum = 0, kProd = 1, kMax = 2, kMin = 3, kAvg = 4 };
constexpr int kNumRedOps = 5;

size_t dataTypeSize(DataType t);
bool isFloatingPoint(DataType t);
// Names as nccl-tests prints them: int8 uint8 int32 uint32 int64 uint64 half float double
// bfloat16 f8e4m3 f8e5m2; and sum prod max min avg.
const char* dataTypeName(DataType t);
const char* redOpName(RedOp op);
std::optional<DataType> parseDataType(std::string_view name);  // also accepts float32, fp16, ...
std::optional<RedOp> parseRedOp(std::string_view name);

}  // namespace plexus
