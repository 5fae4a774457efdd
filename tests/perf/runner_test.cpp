// The perf driver end to end inside this process, on the real library: several ranks per process
// (ncclCommInitAll, -t threads, -g ranks per thread in a group), every reducing op and type, both
// placements; the table must come out in the nccl-tests layout with 0 wrong.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "common/collectives.hpp"
#include "common/datatypes.hpp"
#include "common/device.hpp"
#include "common/options.hpp"
#include "common/runner.hpp"
#include "tests/perf/captured_run.hpp"

namespace plexus::perf {
namespace {

RunResult run(const Collective& coll, const Options& o) {
  return runCaptured(coll, o, ProcessPlacement{});
}

// The host path everywhere (device_test.cpp: device buffers).
Options small() {
  return smallHostSweep();
}

// Table rows: size count type redop root | time algbw busbw wrong | time algbw busbw wrong.
struct Row {
  size_t bytes, count;
  std::string type, op;
  int root;
  std::string wrongOut, wrongIn;
};

bool isNumber(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789.-") == std::string::npos;
}

std::vector<Row> rows(const std::string& text) {
  std::vector<Row> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    bool ok = w.size() == 13 && line[0] == ' ';
    for (size_t k : {0, 1, 4, 5, 6, 7, 9, 10, 11}) ok = ok && k < w.size() && isNumber(w[k]);
    EXPECT_TRUE(ok) << "not a table row: '" << line << "'";
    if (!ok) continue;
    out.push_back(
        Row{std::stoul(w[0]), std::stoul(w[1]), w[2], w[3], std::stoi(w[4]), w[8], w[12]});
  }
  return out;
}

TEST(PerfRunner, AllReduceEveryTypeAndOpWithThreadsAndGroups) {
  Options o = small();
  o.nThreads = 2;
  o.nGpus = 2;  // 4 ranks: 2 threads x 2 ranks per thread
  o.types.clear();
  for (const TypeInfo& t : allTypes()) o.types.push_back(t.type);
  o.ops = allOps();
  o.check = 2;
  RunResult r = run(kAllReduce, o);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  auto table = rows(r.out);
  EXPECT_EQ(table.size(), 12u * 5u * sizeSequence(o).size());  // types x ops x sizes
  for (const Row& row : table) {
    EXPECT_EQ(row.wrongOut, "0");
    EXPECT_EQ(row.wrongIn, "0");
    EXPECT_EQ(row.root, -1);
    EXPECT_EQ(row.bytes, row.count * typeInfo(*parseTypeName(row.type)).size);
  }
  EXPECT_NE(r.out.find("# nThread 2 nGpus 2 minBytes 8 maxBytes 65536 step: 8(factor)"),
            std::string::npos);
  for (int rank = 0; rank < 4; ++rank)
    EXPECT_NE(r.out.find("#  Rank  " + std::to_string(rank) + " Group  0"), std::string::npos);
  EXPECT_NE(r.out.find("# Out of bounds values : 0 OK"), std::string::npos);
  EXPECT_NE(r.out.find("# Avg bus bandwidth    : "), std::string::npos);
}

TEST(PerfRunner, EveryRequiredCollectiveOnThreeRanks) {
  for (const Collective* c : {&kAllGather, &kReduceScatter, &kBroadcast, &kReduce, &kSendRecv}) {
    SCOPED_TRACE(c->name);
    Options o = small();
    o.nGpus = 3;
    o.types = {ncclInt32, ncclFloat16, ncclFloat8e4m3};
    o.ops = c->hasOp ? allOps() : std::vector<ncclRedOp_t>{ncclSum};
    o.root = c->hasRoot ? -1 : 0;  // -r all
    o.minBytes = 5;                // odd sizes: counts that do not divide by the rank count
    o.stepFactor = 7;
    RunResult r = run(*c, o);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    auto table = rows(r.out);
    size_t roots = c->hasRoot ? 3 : 1;
    EXPECT_EQ(sizeSequence(o).size(), 5u);  // 5, 35, 245, 1715, 12005
    EXPECT_EQ(table.size(), 3u * o.ops.size() * roots * 5u);
    for (const Row& row : table) {
      EXPECT_EQ(row.wrongOut, "0");
      EXPECT_EQ(row.wrongIn, c == &kSendRecv ? "N/A" : "0");
      EXPECT_EQ(row.op, c->hasOp ? row.op : "none");
      if (!c->hasRoot) {
        EXPECT_EQ(row.root, -1);
      }
    }
  }
}

TEST(PerfRunner, AggregationModesAndNoCheck) {
  for (int a : {0, 2, 3}) {
    Options o = small();
    o.nGpus = 2;
    o.average = a;
    o.check = 0;
    o.aggIters = 3;
    RunResult r = run(kAllReduce, o);
    ASSERT_EQ(r.code, 0) << r.err;
    for (const Row& row : rows(r.out)) {
      EXPECT_EQ(row.wrongOut, "N/A");
      EXPECT_EQ(row.wrongIn, "N/A");
    }
  }
}

TEST(PerfRunner, RootOutsideTheJobIsAUsageError) {
  Options o = small();
  o.root = 5;
  RunResult r = run(kBroadcast, o);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("-r 5 is not a rank"), std::string::npos) << r.err;
}

// Where the buffers live is said on one '#' line; without a usable CUDA device (this build has no
// CUDA, or no driver, or no GPU) auto means host memory and --buffers device is a usage error.
TEST(PerfRunner, BufferLineAndDeviceBuffersWithoutADevice) {
  Options o = small();
  RunResult host = run(kAllReduce, o);
  ASSERT_EQ(host.code, 0) << host.err;
  EXPECT_NE(host.out.find("# Buffers: host memory (--host)\n"), std::string::npos) << host.out;
  if (cuda::probe().count > 0) GTEST_SKIP() << "a CUDA device is usable here: auto means device";
  o.buffers = BufferKind::kAuto;
  RunResult autoKind = run(kAllReduce, o);
  ASSERT_EQ(autoKind.code, 0) << autoKind.err;
  EXPECT_NE(autoKind.out.find("# Buffers: host memory ("), std::string::npos) << autoKind.out;
  o.buffers = BufferKind::kDevice;
  RunResult device = run(kAllReduce, o);
  EXPECT_EQ(device.code, 2);
  EXPECT_NE(device.err.find("--buffers device: "), std::string::npos) << device.err;
}

}  // namespace
}  // namespace plexus::perf
