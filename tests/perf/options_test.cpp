// Perf tools' command line: nccl-tests defaults, every flag, size syntax, the size sweep.
#include <gtest/gtest.h>

#include <vector>

#include "common/datatypes.hpp"
#include "common/options.hpp"

namespace plexus::perf {
namespace {

ParsedOptions parse(std::vector<const char*> args) {
  args.insert(args.begin(), "all_reduce_perf");
  return parseOptions(static_cast<int>(args.size()), args.data());
}

TEST(PerfOptions, DefaultsAreNcclTests) {
  ParsedOptions p = parse({});
  ASSERT_TRUE(p.options) << p.message;
  const Options& o = *p.options;
  EXPECT_EQ(o.minBytes, 32u << 20);
  EXPECT_EQ(o.maxBytes, 32u << 20);
  EXPECT_EQ(o.stepBytes, 1u << 20);
  EXPECT_EQ(o.stepFactor, 1u);
  EXPECT_EQ(o.iters, 20);
  EXPECT_EQ(o.warmupIters, 5);
  EXPECT_EQ(o.aggIters, 1);
  EXPECT_EQ(o.check, 1);
  EXPECT_EQ(o.average, 1);
  EXPECT_EQ(o.root, 0);
  EXPECT_EQ(o.nThreads, 1);
  EXPECT_EQ(o.nGpus, 1);
  EXPECT_EQ(o.ops, std::vector<ncclRedOp_t>{ncclSum});
  EXPECT_EQ(o.types, std::vector<ncclDataType_t>{ncclFloat32});
  EXPECT_EQ(o.cudaGraph, 0);
  EXPECT_EQ(o.buffers, BufferKind::kAuto);
}

TEST(PerfOptions, BufferKinds) {
  EXPECT_EQ(parse({"--host"}).options->buffers, BufferKind::kHost);
  EXPECT_EQ(parse({"--buffers", "host"}).options->buffers, BufferKind::kHost);
  EXPECT_EQ(parse({"--buffers", "device"}).options->buffers, BufferKind::kDevice);
  EXPECT_EQ(parse({"--buffers=auto"}).options->buffers, BufferKind::kAuto);
  ParsedOptions bad = parse({"--buffers", "gpu"});
  EXPECT_FALSE(bad.options);
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_NE(bad.message.find("--buffers 'gpu': expected auto, device or host"), std::string::npos)
      << bad.message;
  ParsedOptions both = parse({"--host", "--buffers", "device"});
  EXPECT_FALSE(both.options);
  EXPECT_NE(both.message.find("--host contradicts --buffers device"), std::string::npos);
  // nccl-tests' -M (memory report) is accepted; -G takes a launch count, not a negative one.
  EXPECT_TRUE(parse({"-M", "1"}).options);
  EXPECT_EQ(parse({"-G", "10"}).options->cudaGraph, 10);
  EXPECT_FALSE(parse({"-G", "-1"}).options);
}

TEST(PerfOptions, EveryFlag) {
  ParsedOptions p = parse({"-b", "8",  "-e", "64M", "-f", "4",  "-i", "2K", "-n",   "7",  "-w",
                           "3",  "-m", "2",  "-N",  "2",  "-c", "2",  "-o", "prod", "-d", "bf16",
                           "-r", "3",  "-z", "1",   "-y", "1",  "-T", "30", "-G",   "1",  "-C",
                           "1",  "-a", "3",  "-R",  "1",  "-t", "2",  "-g", "4",    "-p", "1"});
  ASSERT_TRUE(p.options) << p.message;
  const Options& o = *p.options;
  EXPECT_EQ(o.minBytes, 8u);
  EXPECT_EQ(o.maxBytes, 64u << 20);
  EXPECT_EQ(o.stepFactor, 4u);
  EXPECT_EQ(o.stepBytes, 2048u);
  EXPECT_EQ(o.iters, 7);
  EXPECT_EQ(o.warmupIters, 3);
  EXPECT_EQ(o.aggIters, 2);
  EXPECT_EQ(o.runCycles, 2);
  EXPECT_EQ(o.check, 2);
  EXPECT_EQ(o.ops, std::vector<ncclRedOp_t>{ncclProd});
  EXPECT_EQ(o.types, std::vector<ncclDataType_t>{ncclBfloat16});
  EXPECT_EQ(o.root, 3);
  EXPECT_EQ(o.blocking, 1);
  EXPECT_DOUBLE_EQ(o.timeoutSeconds, 30.0);
  EXPECT_EQ(o.average, 3);
  EXPECT_EQ(o.nThreads, 2);
  EXPECT_EQ(o.nGpus, 4);
}

TEST(PerfOptions, LongNamesAndAttachedValues) {
  ParsedOptions p = parse({"--minbytes", "1K", "--maxbytes=2K", "-n5", "--op", "max", "--datatype",
                           "int8", "--root", "all"});
  ASSERT_TRUE(p.options) << p.message;
  EXPECT_EQ(p.options->minBytes, 1024u);
  EXPECT_EQ(p.options->maxBytes, 2048u);
  EXPECT_EQ(p.options->iters, 5);
  EXPECT_EQ(p.options->ops, std::vector<ncclRedOp_t>{ncclMax});
  EXPECT_EQ(p.options->types, std::vector<ncclDataType_t>{ncclInt8});
  EXPECT_EQ(p.options->root, -1);
}

TEST(PerfOptions, AllOpsAndAllTypesInNcclTestsOrder) {
  ParsedOptions p = parse({"-o", "all", "-d", "all"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->ops,
            (std::vector<ncclRedOp_t>{ncclSum, ncclProd, ncclMax, ncclMin, ncclAvg}));
  std::vector<std::string> names;
  for (ncclDataType_t t : p.options->types) names.push_back(typeInfo(t).name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"int8", "uint8", "int32", "uint32", "int64", "uint64", "half",
                                      "float", "double", "bfloat16", "f8e4m3", "f8e5m2"}));
}

TEST(PerfOptions, TypeAndOpNames) {
  EXPECT_EQ(parseTypeName("half"), ncclFloat16);
  EXPECT_EQ(parseTypeName("fp16"), ncclFloat16);
  EXPECT_EQ(parseTypeName("FLOAT"), ncclFloat32);
  EXPECT_EQ(parseTypeName("double"), ncclFloat64);
  EXPECT_EQ(parseTypeName("f8e5m2"), ncclFloat8e5m2);
  EXPECT_EQ(parseTypeName("uint64"), ncclUint64);
  EXPECT_FALSE(parseTypeName("int16"));
  EXPECT_EQ(parseOpName("avg"), ncclAvg);
  EXPECT_EQ(parseOpName("Min"), ncclMin);
  EXPECT_FALSE(parseOpName("mulsum"));
  for (const TypeInfo& t : allTypes()) EXPECT_EQ(parseTypeName(t.name), t.type);
  for (ncclRedOp_t op : allOps()) EXPECT_EQ(parseOpName(opName(op)), op);
}

TEST(PerfOptions, Errors) {
  for (auto args : std::vector<std::vector<const char*>>{{"-b", "1M", "-e", "1K"},
                                                         {"-b", "12Q"},
                                                         {"-o", "xor"},
                                                         {"-d", "int16"},
                                                         {"-r", "-1"},
                                                         {"-r", "x"},
                                                         {"-a", "4"},
                                                         {"-n", "0"},
                                                         {"-t", "0"},
                                                         {"-b", "8", "-e", "16", "-i", "0"},
                                                         {"--bogus"}}) {
    ParsedOptions p = parse(args);
    EXPECT_FALSE(p.options) << args[0] << " " << (args.size() > 1 ? args[1] : "");
    EXPECT_EQ(p.exitCode, 2);
    EXPECT_FALSE(p.message.empty());
  }
  ParsedOptions help = parse({"-h"});
  EXPECT_FALSE(help.options);
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_NE(help.message.find("--minbytes"), std::string::npos);
}

TEST(PerfOptions, SizeSyntax) {
  EXPECT_EQ(parseSize("8"), 8u);
  EXPECT_EQ(parseSize("0"), 0u);
  EXPECT_EQ(parseSize("64K"), 65536u);
  EXPECT_EQ(parseSize("64k"), 65536u);
  EXPECT_EQ(parseSize("1M"), 1048576u);
  EXPECT_EQ(parseSize("1.5M"), 1572864u);
  EXPECT_EQ(parseSize("8G"), 8589934592u);
  EXPECT_FALSE(parseSize(""));
  EXPECT_FALSE(parseSize("M"));
  EXPECT_FALSE(parseSize("1MB"));
  EXPECT_FALSE(parseSize("-4"));
}

TEST(PerfOptions, SizeSequence) {
  Options o;
  o.minBytes = 8;
  o.maxBytes = 64u << 20;
  o.stepFactor = 4;
  std::vector<size_t> s = sizeSequence(o);
  ASSERT_EQ(s.size(), 12u);  // 8, 32, ..., 32M (128M is above the maximum)
  EXPECT_EQ(s.front(), 8u);
  EXPECT_EQ(s.back(), 32u << 20);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_EQ(s[i], s[i - 1] * 4);

  o.minBytes = 1u << 20;
  o.maxBytes = 4u << 20;
  o.stepFactor = 1;
  o.stepBytes = 1u << 20;
  EXPECT_EQ(sizeSequence(o), (std::vector<size_t>{1u << 20, 2u << 20, 3u << 20, 4u << 20}));

  o.minBytes = 0;
  o.maxBytes = 4;
  o.stepFactor = 2;
  EXPECT_EQ(sizeSequence(o), (std::vector<size_t>{0, 1, 2, 4}));

  o.minBytes = o.maxBytes = 100;
  EXPECT_EQ(sizeSequence(o), (std::vector<size_t>{100}));
  o.stepFactor = 1;
  o.stepBytes = 0;
  EXPECT_EQ(sizeSequence(o), (std::vector<size_t>{100}));
}

}  // namespace
}  // namespace plexus::perf
