// Datatype and reduction-op metadata: element sizes, the names nccl-tests prints, and parsing of
// those names and of the aliases users type (float32, fp16, bf16, e4m3, ...).
#include "kernels/datatype.hpp"

#include <array>
#include <cctype>
#include <string>

namespace plexus {
namespace {

struct TypeInfo {
  size_t size;
  bool floating;
  const char* name;
};

// Indexed by the DataType value.
constexpr std::array<TypeInfo, kNumDataTypes> kTypes{{
    {1, false, "int8"},
    {1, false, "uint8"},
    {4, false, "int32"},
    {4, false, "uint32"},
    {8, false, "int64"},
    {8, false, "uint64"},
    {2, true, "half"},
    {4, true, "float"},
    {8, true, "double"},
    {2, true, "bfloat16"},
    {1, true, "f8e4m3"},
    {1, true, "f8e5m2"},
}};

constexpr std::array<const char*, kNumRedOps> kOpNames{"sum", "prod", "max", "min", "avg"};

struct Alias {
  const char* name;
  DataType type;
};

// Lower-case spellings accepted besides the canonical names above: NCCL's enum names without
// the "nccl" prefix, numpy/torch names, and the short forms people write.
constexpr Alias kTypeAliases[] = {
    {"char", DataType::kInt8},
    {"i8", DataType::kInt8},
    {"u8", DataType::kUint8},
    {"int", DataType::kInt32},
    {"i32", DataType::kInt32},
    {"uint", DataType::kUint32},
    {"u32", DataType::kUint32},
    {"i64", DataType::kInt64},
    {"u64", DataType::kUint64},
    {"float16", DataType::kFloat16},
    {"fp16", DataType::kFloat16},
    {"f16", DataType::kFloat16},
    {"float32", DataType::kFloat32},
    {"fp32", DataType::kFloat32},
    {"f32", DataType::kFloat32},
    {"float64", DataType::kFloat64},
    {"fp64", DataType::kFloat64},
    {"f64", DataType::kFloat64},
    {"bf16", DataType::kBfloat16},
    {"bfloat", DataType::kBfloat16},
    {"e4m3", DataType::kFp8E4M3},
    {"fp8e4m3", DataType::kFp8E4M3},
    {"fp8_e4m3", DataType::kFp8E4M3},
    {"float8e4m3", DataType::kFp8E4M3},
    {"float8_e4m3", DataType::kFp8E4M3},
    {"float8_e4m3fn", DataType::kFp8E4M3},
    {"e5m2", DataType::kFp8E5M2},
    {"fp8e5m2", DataType::kFp8E5M2},
    {"fp8_e5m2", DataType::kFp8E5M2},
    {"float8e5m2", DataType::kFp8E5M2},
    {"float8_e5m2", DataType::kFp8E5M2},
};

struct OpAlias {
  const char* name;
  RedOp op;
};
constexpr OpAlias kOpAliases[] = {
    {"product", RedOp::kProd}, {"mul", RedOp::kProd},    {"maximum", RedOp::kMax},
    {"minimum", RedOp::kMin},  {"average", RedOp::kAvg}, {"mean", RedOp::kAvg},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  // Accept NCCL's enum spelling too: "ncclFloat32" -> "float32".
  if (out.size() > 4 && out.compare(0, 4, "nccl") == 0) out.erase(0, 4);
  return out;
}

bool validType(DataType t) {
  return static_cast<unsigned>(t) < unsigned(kNumDataTypes);
}
bool validOp(RedOp op) {
  return static_cast<unsigned>(op) < unsigned(kNumRedOps);
}

}  // namespace

size_t dataTypeSize(DataType t) {
  return validType(t) ? kTypes[size_t(t)].size : 0;
}

bool isFloatingPoint(DataType t) {
  return validType(t) && kTypes[size_t(t)].floating;
}

const char* dataTypeName(DataType t) {
  return validType(t) ? kTypes[size_t(t)].name : "unknown";
}

const char* redOpName(RedOp op) {
  return validOp(op) ? kOpNames[size_t(op)] : "unknown";
}

std::optional<DataType> parseDataType(std::string_view name) {
  const std::string s = lower(name);
  for (size_t i = 0; i < kTypes.size(); ++i) {
    if (s == kTypes[i].name) return static_cast<DataType>(i);
  }
  for (const Alias& a : kTypeAliases) {
    if (s == a.name) return a.type;
  }
  return std::nullopt;
}

std::optional<RedOp> parseRedOp(std::string_view name) {
  const std::string s = lower(name);
  for (size_t i = 0; i < kOpNames.size(); ++i) {
    if (s == kOpNames[i]) return static_cast<RedOp>(i);
  }
  for (const OpAlias& a : kOpAliases) {
    if (s == a.name) return a.op;
  }
  return std::nullopt;
}

}  // namespace plexus
