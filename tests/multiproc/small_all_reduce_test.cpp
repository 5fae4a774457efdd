// Small all-reduce on one host (runtime/small_all_reduce.hpp, PLEXUS_SMALL_MAX): results are exact
// for every datatype and op, in place and out of place, at counts around the one-line payload and
// the maximum, on 1, 2, 3 and 5 ranks, interleaved with calls above the maximum (the engine);
// calls run inline on some ranks and queued on the engine (inside a group) on others stay in step
// with the engine's later collectives; a killed peer, a rank that never calls and a mismatched
// count are named within seconds; the switches that turn the path off do.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kernels/datatype.hpp"
#include "tests/multiproc/collective_check.hpp"
#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

constexpr size_t kGuard = 16;
constexpr unsigned char kFill = 0xA5;
const char* const kOnLine = "run one-shot through a shared segment";
constexpr size_t kMaxBytes = 4096;  // PLEXUS_SMALL_MAX of these tests

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

RunOptions smallOptions() {
  RunOptions o;
  o.env["PLEXUS_TRANSPORTS"] = "shm";
  o.env["PLEXUS_SMALL_MAX"] = std::to_string(kMaxBytes);
  o.env["PLEXUS_DEBUG"] = "INFO";
  o.env["PLEXUS_DEBUG_SUBSYS"] = "INIT";
  o.env["PLEXUS_TIMEOUT"] = "60";
  o.timeoutSeconds = 120;
  return o;
}

// One all-reduce checked against the reference; "" or what is wrong.
std::string checkOne(ncclComm_t comm, int rank, int n, DataType t, RedOp op, size_t count,
                     bool inPlace, uint64_t seed) {
  const size_t esz = dataTypeSize(t);
  const size_t bytes = (count + kGuard) * esz;
  std::vector<unsigned char> in(bytes, kFill), out(bytes, kFill);
  fillInput(in.data(), t, op, rank, n, count, seed);
  const std::vector<unsigned char> sent = in;
  unsigned char* dst = inPlace ? in.data() : out.data();
  if (ncclAllReduce(in.data(), dst, count, static_cast<ncclDataType_t>(t),
                    static_cast<ncclRedOp_t>(op), comm, nullptr) != ncclSuccess)
    return std::string("ncclAllReduce failed: ") + ncclGetLastError(comm);
  const auto want = expectedReduction(t, op, n, count, seed);
  std::string bad = compareResult(dst, want.data(), t, op, count, true);
  for (size_t i = count * esz; i < bytes && bad.empty(); ++i)
    if (dst[i] != kFill) bad = "written past the result at byte " + std::to_string(i);
  if (!inPlace && bad.empty() && in != sent) bad = "the send buffer changed";
  return bad;
}

int exactBody(int rank, int n, const ncclUniqueId& id) {
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  int failures = 0;
  uint64_t seed = 1;
  for (int ti = 0; ti < kNumDataTypes; ++ti) {
    const auto t = static_cast<DataType>(ti);
    const size_t esz = dataTypeSize(t);
    // 1 element; the most in the flag's line (48 bytes) and one more; odd; the maximum and one
    // more (the engine); a large one between them.
    for (size_t count : {size_t(1), 48 / esz, 48 / esz + 1, size_t(37), kMaxBytes / esz,
                         kMaxBytes / esz + 1, size_t(20011)})
      for (int oi = 0; oi < kNumRedOps; ++oi)
        for (bool inPlace : {false, true}) {
          const auto op = static_cast<RedOp>(oi);
          const std::string bad = checkOne(comm, rank, n, t, op, count, inPlace, seed++);
          if (!bad.empty() && failures++ < 10)
            std::fprintf(stderr, "count %zu type %d op %d %s: %s\n", count, ti, oi,
                         inPlace ? "in place" : "out of place", bad.c_str());
        }
  }
  RANK_NCCL(ncclCommDestroy(comm));
  return failures == 0 ? 0 : 1;
}

class SmallAllReduceRanks : public ::testing::TestWithParam<int> {};

TEST_P(SmallAllReduceRanks, ExactEveryTypeOpAndPlacement) {
  auto out = runRanks(GetParam(), exactBody, smallOptions());
  EXPECT_EQ(describeFailures(out), "");
  EXPECT_TRUE(contains(out[0].output, kOnLine)) << out[0].output;
}

std::string ranksName(const ::testing::TestParamInfo<int>& p) {
  return std::to_string(p.param) + "ranks";
}

INSTANTIATE_TEST_SUITE_P(Ranks, SmallAllReduceRanks, ::testing::Values(1, 2, 3, 5), ranksName);

// Even ranks make their small all-reduces inside groups (queued on the engine, the gate runs
// them), odd ranks one by one (inline); between them ring all-reduces of 1 MiB and broadcasts run
// on the engine, whose messages carry the collective sequence number: a rank whose count went
// astray would fail them with a mismatch.
TEST(SmallAllReduce, InlineAndQueuedCallsStayInStepWithTheEngine) {
  auto out = runRanks(
      4,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<int32_t> small(3), big(size_t(1) << 18), bcast(1000);
        for (int round = 0; round < 40; ++round) {
          for (auto& v : small) v = rank + round;
          const int calls = 1 + round % 3;
          if (rank % 2 == 0) RANK_NCCL(ncclGroupStart());
          for (int c = 0; c < calls; ++c)
            RANK_NCCL(ncclAllReduce(small.data(), small.data(), small.size(), ncclInt32, ncclSum,
                                    comm, nullptr));
          if (rank % 2 == 0) RANK_NCCL(ncclGroupEnd());
          // After `calls` in-place sums of n inputs each: (sum of rank + round) * n^(calls-1).
          int64_t want = 0;
          for (int r = 0; r < n; ++r) want += r + round;
          for (int c = 1; c < calls; ++c) want *= n;
          for (int32_t v : small)
            RANK_CHECK(v == static_cast<int32_t>(want), "round %d: small %d want %lld", round, v,
                       static_cast<long long>(want));
          for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<int32_t>(i % 1000) + rank;
          RANK_NCCL(
              ncclAllReduce(big.data(), big.data(), big.size(), ncclInt32, ncclSum, comm, nullptr));
          for (size_t i = 0; i < big.size(); i += 997)
            RANK_CHECK(big[i] == static_cast<int32_t>(4 * (i % 1000) + 6), "round %d: big[%zu] %d",
                       round, i, big[i]);
          for (size_t i = 0; i < bcast.size(); ++i) bcast[i] = rank == round % n ? round : -1;
          RANK_NCCL(ncclBroadcast(bcast.data(), bcast.data(), bcast.size(), ncclInt32, round % n,
                                  comm, nullptr));
          RANK_CHECK(bcast[999] == round, "round %d: broadcast %d", round, bcast[999]);
        }
        RANK_NCCL(ncclCommDestroy(comm));
        return 0;
      },
      smallOptions());
  EXPECT_EQ(describeFailures(out), "");
  EXPECT_TRUE(contains(out[0].output, kOnLine)) << out[0].output;
}

// The first line of an "ERROR: " report in a rank's output.
std::string errorLine(const std::string& output) {
  const size_t at = output.find("ERROR: ");
  return at == std::string::npos ? "" : output.substr(at, output.find('\n', at) - at);
}

// Each rank makes small all-reduces until one fails; rank `victim` dies (SIGKILL) or stops calling
// (sleeps) at call 100, or calls with another count. Returns 0 when the failure came.
int failingBody(int rank, int n, const ncclUniqueId& id, int victim, const char* how) {
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  std::vector<float> buf(4, 1.0f);
  for (int i = 0; i < 100000; ++i) {
    size_t count = buf.size();
    if (i == 100 && rank == victim) {
      if (std::strcmp(how, "kill") == 0) raise(SIGKILL);
      if (std::strcmp(how, "stall") == 0) std::this_thread::sleep_for(std::chrono::seconds(5));
      if (std::strcmp(how, "count") == 0) count = 3;
    }
    const ncclResult_t r =
        ncclAllReduce(buf.data(), buf.data(), count, ncclFloat32, ncclMax, comm, nullptr);
    if (r != ncclSuccess) {
      std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
      ncclCommAbort(comm);
      return 0;
    }
  }
  std::fprintf(stderr, "no error\n");
  return 1;
}

TEST(SmallAllReduce, KilledPeerIsNamedBySurvivors) {
  const auto t0 = std::chrono::steady_clock::now();
  auto out = runRanks(
      3,
      [](int rank, int n, const ncclUniqueId& id) { return failingBody(rank, n, id, 2, "kill"); },
      smallOptions());
  EXPECT_EQ(out[2].exitCode, 128 + SIGKILL);
  for (int r : {0, 1}) {
    const auto& o = out[static_cast<size_t>(r)];
    EXPECT_EQ(o.exitCode, 0) << o.output;
    EXPECT_TRUE(contains(errorLine(o.output), "rank 2 (host")) << o.output;
    std::printf("rank %d: %s\n", r, errorLine(o.output).c_str());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
}

TEST(SmallAllReduce, RankThatNeverCallsIsNamedAtTheTimeout) {
  RunOptions o = smallOptions();
  o.env["PLEXUS_TIMEOUT"] = "2";
  const auto t0 = std::chrono::steady_clock::now();
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) { return failingBody(rank, n, id, 1, "stall"); },
      o);
  const std::string line = errorLine(out[0].output);
  EXPECT_EQ(out[0].exitCode, 0) << out[0].output;
  EXPECT_TRUE(contains(line, "PLEXUS_TIMEOUT")) << out[0].output;
  EXPECT_TRUE(contains(line, "rank 1 (host")) << out[0].output;
  std::printf("rank 0: %s\n", line.c_str());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));
}

TEST(SmallAllReduce, MismatchedCountIsNamed) {
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) { return failingBody(rank, n, id, 1, "count"); },
      smallOptions());
  EXPECT_EQ(describeFailures(out), "");
  EXPECT_TRUE(
      contains(errorLine(out[0].output) + errorLine(out[1].output), "another count, type or op"))
      << out[0].output << out[1].output;
}

// The path is off with PLEXUS_SMALL_MAX=0, a forced all-reduce algorithm, PLEXUS_CHECK or tcp; the
// results stay exact (a short run of the matrix: every type, sum, 1 and 37 elements).
TEST(SmallAllReduce, SwitchesTurnItOff) {
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"PLEXUS_SMALL_MAX", "0"},
                                                        {"PLEXUS_ALGO", "allreduce:ring"},
                                                        {"PLEXUS_CHECK", "1"},
                                                        {"PLEXUS_TRANSPORTS", "tcp"}}) {
    RunOptions o = smallOptions();
    o.env[name] = value;
    auto out = runRanks(
        2,
        [](int rank, int n, const ncclUniqueId& id) {
          ncclComm_t comm;
          RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
          int failures = 0;
          for (int ti = 0; ti < kNumDataTypes; ++ti)
            for (size_t count : {size_t(1), size_t(37)}) {
              const std::string bad = checkOne(comm, rank, n, static_cast<DataType>(ti),
                                               RedOp::kSum, count, false, 7 + count);
              if (!bad.empty()) {
                std::fprintf(stderr, "type %d count %zu: %s\n", ti, count, bad.c_str());
                ++failures;
              }
            }
          RANK_NCCL(ncclCommDestroy(comm));
          return failures;
        },
        o);
    EXPECT_EQ(describeFailures(out), "") << name << "=" << value;
    EXPECT_FALSE(contains(out[0].output, kOnLine)) << name << "=" << value << "\n" << out[0].output;
  }
}

}  // namespace
}  // namespace plexus::testing
