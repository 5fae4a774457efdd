// Datatype and op metadata: sizes, the names nccl-tests prints, parsing of names and aliases.
#include <gtest/gtest.h>

#include <string>

#include "kernels/datatype.hpp"

namespace plexus {
namespace {

TEST(DataType, SizesAndKinds) {
  const size_t sizes[kNumDataTypes] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
  const bool floating[kNumDataTypes] = {false, false, false, false, false, false,
                                        true,  true,  true,  true,  true,  true};
  for (int i = 0; i < kNumDataTypes; ++i) {
    EXPECT_EQ(dataTypeSize(DataType(i)), sizes[i]) << i;
    EXPECT_EQ(isFloatingPoint(DataType(i)), floating[i]) << i;
  }
  EXPECT_EQ(dataTypeSize(DataType(200)), 0u);
}

TEST(DataType, NcclTestsNamesRoundTrip) {
  const char* names[kNumDataTypes] = {"int8", "uint8", "int32",  "uint32",   "int64",  "uint64",
                                      "half", "float", "double", "bfloat16", "f8e4m3", "f8e5m2"};
  for (int i = 0; i < kNumDataTypes; ++i) {
    EXPECT_STREQ(dataTypeName(DataType(i)), names[i]);
    EXPECT_EQ(parseDataType(names[i]), DataType(i)) << names[i];
  }
  const char* ops[kNumRedOps] = {"sum", "prod", "max", "min", "avg"};
  for (int i = 0; i < kNumRedOps; ++i) {
    EXPECT_STREQ(redOpName(RedOp(i)), ops[i]);
    EXPECT_EQ(parseRedOp(ops[i]), RedOp(i)) << ops[i];
  }
  EXPECT_STREQ(dataTypeName(DataType(99)), "unknown");
  EXPECT_STREQ(redOpName(RedOp(99)), "unknown");
}

TEST(DataType, Aliases) {
  EXPECT_EQ(parseDataType("float32"), DataType::kFloat32);
  EXPECT_EQ(parseDataType("fp32"), DataType::kFloat32);
  EXPECT_EQ(parseDataType("FLOAT"), DataType::kFloat32);
  EXPECT_EQ(parseDataType("ncclFloat32"), DataType::kFloat32);
  EXPECT_EQ(parseDataType("fp16"), DataType::kFloat16);
  EXPECT_EQ(parseDataType("float16"), DataType::kFloat16);
  EXPECT_EQ(parseDataType("ncclHalf"), DataType::kFloat16);
  EXPECT_EQ(parseDataType("bf16"), DataType::kBfloat16);
  EXPECT_EQ(parseDataType("char"), DataType::kInt8);
  EXPECT_EQ(parseDataType("int"), DataType::kInt32);
  EXPECT_EQ(parseDataType("uint"), DataType::kUint32);
  EXPECT_EQ(parseDataType("fp64"), DataType::kFloat64);
  EXPECT_EQ(parseDataType("float64"), DataType::kFloat64);
  EXPECT_EQ(parseDataType("e4m3"), DataType::kFp8E4M3);
  EXPECT_EQ(parseDataType("float8_e4m3fn"), DataType::kFp8E4M3);
  EXPECT_EQ(parseDataType("ncclFloat8e4m3"), DataType::kFp8E4M3);
  EXPECT_EQ(parseDataType("e5m2"), DataType::kFp8E5M2);
  EXPECT_EQ(parseDataType("fp8_e5m2"), DataType::kFp8E5M2);
  EXPECT_EQ(parseRedOp("ncclSum"), RedOp::kSum);
  EXPECT_EQ(parseRedOp("PROD"), RedOp::kProd);
  EXPECT_EQ(parseRedOp("mean"), RedOp::kAvg);
}

TEST(DataType, UnknownNames) {
  EXPECT_FALSE(parseDataType(""));
  EXPECT_FALSE(parseDataType("int16"));
  EXPECT_FALSE(parseDataType("float8"));
  EXPECT_FALSE(parseDataType("nccl"));
  EXPECT_FALSE(parseRedOp("xor"));
  EXPECT_FALSE(parseRedOp(""));
  EXPECT_FALSE(parseRedOp(std::string("sum\0", 4)));
}

}  // namespace
}  // namespace plexus
