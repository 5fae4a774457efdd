// Datatype and operator tables (see datatypes.hpp).
#include "common/datatypes.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/float_formats.hpp"

namespace plexus::perf {
namespace {

// Integer test values stay below 2^30 so that sums of thousands of them fit every wide type.
constexpr int64_t kWideLimit = int64_t{1} << 30;

template <typename T>
T loadAs(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
void storeAs(void* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

std::optional<NarrowFloat> narrowOf(ncclDataType_t t) {
  switch (t) {
    case ncclFloat16:
      return NarrowFloat::kHalf;
    case ncclBfloat16:
      return NarrowFloat::kBfloat16;
    case ncclFloat8e4m3:
      return NarrowFloat::kE4M3;
    case ncclFloat8e5m2:
      return NarrowFloat::kE5M2;
    default:
      return std::nullopt;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const std::vector<TypeInfo>& allTypes() {
  // clang-format off
  static const std::vector<TypeInfo> kTypes = {
    {ncclInt8,       "int8",     1, false, true,   0, 127,        6,  0},
    {ncclUint8,      "uint8",    1, false, false,  0, 255,        7,  0},
    {ncclInt32,      "int32",    4, false, true,   0, kWideLimit, 30, 0},
    {ncclUint32,     "uint32",   4, false, false,  0, kWideLimit, 30, 0},
    {ncclInt64,      "int64",    8, false, true,   0, kWideLimit, 30, 0},
    {ncclUint64,     "uint64",   8, false, false,  0, kWideLimit, 30, 0},
    {ncclFloat16,    "half",     2, true,  true,  11, 2048,       15, 0x1p-24},
    {ncclFloat32,    "float",    4, true,  true,  24, 1 << 24,    30, 0x1p-149},
    {ncclFloat64,    "double",   8, true,  true,  53, kWideLimit, 30, 0x1p-1074},
    {ncclBfloat16,   "bfloat16", 2, true,  true,   8, 256,        30, 0x1p-133},
    {ncclFloat8e4m3, "f8e4m3",   1, true,  true,   4, 16,         8,  0x1p-9},
    {ncclFloat8e5m2, "f8e5m2",   1, true,  true,   3, 8,          15, 0x1p-16},
  };
  // clang-format on
  return kTypes;
}

const TypeInfo& typeInfo(ncclDataType_t type) {
  for (const TypeInfo& t : allTypes())
    if (t.type == type) return t;
  throw std::invalid_argument("unknown ncclDataType_t " + std::to_string(static_cast<int>(type)));
}

std::optional<ncclDataType_t> parseTypeName(std::string_view name) {
  std::string n = lower(name);
  for (const TypeInfo& t : allTypes())
    if (n == t.name) return t.type;
  struct Alias {
    const char* name;
    ncclDataType_t type;
  };
  static constexpr Alias kAliases[] = {
      {"char", ncclInt8},           {"int", ncclInt32},       {"fp16", ncclFloat16},
      {"float16", ncclFloat16},     {"fp32", ncclFloat32},    {"float32", ncclFloat32},
      {"fp64", ncclFloat64},        {"float64", ncclFloat64}, {"bf16", ncclBfloat16},
      {"fp8_e4m3", ncclFloat8e4m3}, {"e4m3", ncclFloat8e4m3}, {"float8e4m3", ncclFloat8e4m3},
      {"fp8_e5m2", ncclFloat8e5m2}, {"e5m2", ncclFloat8e5m2}, {"float8e5m2", ncclFloat8e5m2},
  };
  for (const Alias& a : kAliases)
    if (n == a.name) return a.type;
  return std::nullopt;
}

const std::vector<ncclRedOp_t>& allOps() {
  static const std::vector<ncclRedOp_t> kOps = {ncclSum, ncclProd, ncclMax, ncclMin, ncclAvg};
  return kOps;
}

const char* opName(ncclRedOp_t op) {
  switch (op) {
    case ncclSum:
      return "sum";
    case ncclProd:
      return "prod";
    case ncclMax:
      return "max";
    case ncclMin:
      return "min";
    case ncclAvg:
      return "avg";
    default:
      return "?";
  }
}

std::optional<ncclRedOp_t> parseOpName(std::string_view name) {
  std::string n = lower(name);
  for (ncclRedOp_t op : allOps())
    if (n == opName(op)) return op;
  return std::nullopt;
}

void encodeInteger(const TypeInfo& type, int64_t value, void* dst) {
  switch (type.size) {
    case 1:
      storeAs<uint8_t>(dst, static_cast<uint8_t>(value));
      break;
    case 2:
      storeAs<uint16_t>(dst, static_cast<uint16_t>(value));
      break;
    case 4:
      storeAs<uint32_t>(dst, static_cast<uint32_t>(value));
      break;
    default:
      storeAs<uint64_t>(dst, static_cast<uint64_t>(value));
      break;
  }
}

void encodeElement(const TypeInfo& type, double value, void* dst) {
  if (!type.isFloat) {
    encodeInteger(type, static_cast<int64_t>(value), dst);
  } else if (type.type == ncclFloat32) {
    storeAs<float>(dst, static_cast<float>(value));
  } else if (type.type == ncclFloat64) {
    storeAs<double>(dst, value);
  } else {
    uint32_t bits = encodeNarrow(*narrowOf(type.type), value);
    if (type.size == 2)
      storeAs<uint16_t>(dst, static_cast<uint16_t>(bits));
    else
      storeAs<uint8_t>(dst, static_cast<uint8_t>(bits));
  }
}

double decodeElement(const TypeInfo& type, const void* src) {
  switch (type.type) {
    case ncclInt8:
      return loadAs<int8_t>(src);
    case ncclUint8:
      return loadAs<uint8_t>(src);
    case ncclInt32:
      return loadAs<int32_t>(src);
    case ncclUint32:
      return loadAs<uint32_t>(src);
    case ncclInt64:
      return static_cast<double>(loadAs<int64_t>(src));
    case ncclUint64:
      return static_cast<double>(loadAs<uint64_t>(src));
    case ncclFloat32:
      return loadAs<float>(src);
    case ncclFloat64:
      return loadAs<double>(src);
    case ncclFloat16:
    case ncclBfloat16:
      return decodeNarrow(*narrowOf(type.type), loadAs<uint16_t>(src));
    default:
      return decodeNarrow(*narrowOf(type.type), loadAs<uint8_t>(src));
  }
}

}  // namespace plexus::perf
