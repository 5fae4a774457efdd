// Datatypes and reduction operations (the enums live in the public plexus/types.hpp, with the
// values of ncclDataType_t and ncclRedOp_t): sizes, names and parsing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "plexus/types.hpp"

namespace plexus {

size_t dataTypeSize(DataType t);
bool isFloatingPoint(DataType t);
// Names as nccl-tests prints them: int8 uint8 int32 uint32 int64 uint64 half float double
// bfloat16 f8e4m3 f8e5m2; and sum prod max min avg.
const char* dataTypeName(DataType t);
const char* redOpName(RedOp op);
std::optional<DataType> parseDataType(std::string_view name);  // also accepts float32, fp16, ...
std::optional<RedOp> parseRedOp(std::string_view name);

}  // namespace plexus
