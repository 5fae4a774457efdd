// Single copy on one host (runtime/single_copy.hpp, PLEXUS_SINGLE_COPY=1): all-reduce,
// reduce-scatter and all-gather results are exact for every datatype and op, in place and out of
// place, for odd counts (some ranks own no element) on 1 to 4 ranks, next to calls below the
// threshold that take the shm slots, with plain buffers (cross-memory attach) and with
// ncclMemAlloc's (all-reduce: zero copy from mapped peers); a rank killed in the middle of a
// single-copy all-reduce is named by every survivor within seconds. Where cross-memory attach
// does not work here (ptrace restrictions) the tests are skipped, naming the INFO line that says
// why.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>

#include <algorithm>
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
const char* const kOnLine = "single copy (cross-memory attach) for all-reduce";
const char* const kOffLine = "collectives stay on the shm slots";
const char* const kZeroCopyLine = "zero copy: every rank's buffers come from ncclMemAlloc";

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

RunOptions singleCopyOptions(const std::string& minBytes) {
  RunOptions o;
  o.env["PLEXUS_TRANSPORTS"] = "shm";
  o.env["PLEXUS_SINGLE_COPY"] = "1";
  o.env["PLEXUS_SINGLE_COPY_MIN"] = minBytes;
  o.env["PLEXUS_DEBUG"] = "INFO";
  o.env["PLEXUS_DEBUG_SUBSYS"] = "INIT";
  o.env["PLEXUS_TIMEOUT"] = "60";
  o.timeoutSeconds = 120;
  return o;
}

constexpr size_t kMaxCount = 40001;        // largest all-reduce count
constexpr size_t kScatterCount = 10001;    // largest reduce-scatter / all-gather count per rank
constexpr int kScatterGatherMaxRanks = 4;  // scatterGather runs on up to this many ranks
// Elements (of up to 8 bytes) each buffer holds: the largest call plus its guard.
constexpr size_t kBufferElems = std::max(kMaxCount, kScatterCount* kScatterGatherMaxRanks) + kGuard;

// The two buffers of a rank: from std::vector, or from ncclMemAlloc (shared allocations with
// PLEXUS_SINGLE_COPY=1: the zero-copy path).
struct Buffers {
  unsigned char* in = nullptr;
  unsigned char* out = nullptr;
};

// One all-reduce checked against the reference; "" or what is wrong.
std::string checkOne(ncclComm_t comm, int rank, int n, DataType t, RedOp op, size_t count,
                     bool inPlace, uint64_t seed, Buffers b) {
  const size_t esz = dataTypeSize(t);
  const size_t bytes = (count + kGuard) * esz;
  std::memset(b.in, kFill, bytes);
  std::memset(b.out, kFill, bytes);
  fillInput(b.in, t, op, rank, n, count, seed);
  const std::vector<unsigned char> sent(b.in, b.in + bytes);
  void* dst = inPlace ? b.in : b.out;
  if (ncclAllReduce(b.in, dst, count, static_cast<ncclDataType_t>(t), static_cast<ncclRedOp_t>(op),
                    comm, nullptr) != ncclSuccess)
    return std::string("ncclAllReduce failed: ") + ncclGetLastError(comm);
  const auto want = expectedReduction(t, op, n, count, seed);
  std::string bad = compareResult(dst, want.data(), t, op, count, true);
  const auto* got = static_cast<const unsigned char*>(dst);
  for (size_t i = count * esz; i < bytes && bad.empty(); ++i)
    if (got[i] != kFill) bad = "written past the result at byte " + std::to_string(i);
  if (!inPlace && bad.empty() && !std::equal(sent.begin(), sent.end(), b.in))
    bad = "the send buffer changed";
  return bad;
}

// Reduce-scatter: this rank's block of every rank's input, reduced.
std::string checkReduceScatter(ncclComm_t comm, int rank, int n, DataType t, RedOp op, size_t count,
                               bool inPlace, uint64_t seed, Buffers b) {
  const size_t esz = dataTypeSize(t);
  const size_t total = count * static_cast<size_t>(n);
  std::memset(b.in, kFill, (total + kGuard) * esz);
  std::memset(b.out, kFill, (count + kGuard) * esz);
  fillInput(b.in, t, op, rank, n, total, seed);
  unsigned char* dst = inPlace ? b.in + static_cast<size_t>(rank) * count * esz : b.out;
  if (ncclReduceScatter(b.in, dst, count, static_cast<ncclDataType_t>(t),
                        static_cast<ncclRedOp_t>(op), comm, nullptr) != ncclSuccess)
    return std::string("ncclReduceScatter failed: ") + ncclGetLastError(comm);
  const auto want = expectedReduction(t, op, n, count, seed, static_cast<size_t>(rank) * count);
  std::string bad = compareResult(dst, want.data(), t, op, count, true);
  for (size_t i = count * esz; !inPlace && i < (count + kGuard) * esz && bad.empty(); ++i)
    if (b.out[i] != kFill) bad = "written past the result at byte " + std::to_string(i);
  return bad;
}

// All-gather: every rank's input, in rank order.
std::string checkAllGather(ncclComm_t comm, int rank, int n, DataType t, size_t count, bool inPlace,
                           uint64_t seed, Buffers b) {
  const size_t bytes = count * dataTypeSize(t);
  const size_t total = bytes * static_cast<size_t>(n);
  std::memset(b.out, kFill, total + kGuard);
  unsigned char* src = inPlace ? b.out + static_cast<size_t>(rank) * bytes : b.in;
  fillBytes(src, bytes, rank, seed);
  if (ncclAllGather(src, b.out, count, static_cast<ncclDataType_t>(t), comm, nullptr) !=
      ncclSuccess)
    return std::string("ncclAllGather failed: ") + ncclGetLastError(comm);
  std::vector<unsigned char> want(bytes);
  for (int r = 0; r < n; ++r) {
    fillBytes(want.data(), bytes, r, seed);
    if (!std::equal(want.begin(), want.end(), b.out + static_cast<size_t>(r) * bytes))
      return "block of rank " + std::to_string(r) + " differs";
  }
  for (size_t i = total; i < total + kGuard; ++i)
    if (b.out[i] != kFill) return "written past the result at byte " + std::to_string(i);
  return "";
}

// Reduce-scatter and all-gather, every datatype (reduce-scatter: every op) and placement; counts
// per rank (10001 x n x 4 bytes and more take single copy at PLEXUS_SINGLE_COPY_MIN=64K).
int scatterGather(ncclComm_t comm, int rank, int n, Buffers b) {
  int failures = 0;
  uint64_t seed = 1000;
  auto note = [&](const std::string& bad, const char* what, size_t count, int ti, int oi) {
    if (!bad.empty() && failures++ < 10)
      std::fprintf(stderr, "%s count %zu type %d op %d: %s\n", what, count, ti, oi, bad.c_str());
  };
  for (size_t count : {size_t(1), size_t(3), size_t(1013), kScatterCount})
    for (int ti = 0; ti < kNumDataTypes; ++ti)
      for (bool inPlace : {false, true}) {
        const auto t = static_cast<DataType>(ti);
        for (int oi = 0; oi < kNumRedOps; ++oi)
          note(checkReduceScatter(comm, rank, n, t, static_cast<RedOp>(oi), count, inPlace, seed++,
                                  b),
               "reduce-scatter", count, ti, oi);
        note(checkAllGather(comm, rank, n, t, count, inPlace, seed++, b), "all-gather", count, ti,
             -1);
      }
  return failures;
}

int matrix(int rank, int n, const ncclUniqueId& id, Buffers b) {
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  int failures = 0;
  uint64_t seed = 1;
  // 1 and 3 leave ranks without an element; 1013 and 40001 are odd; 40001 x 4 bytes and more
  // take single copy at PLEXUS_SINGLE_COPY_MIN=64K, the others the slots.
  for (size_t count : {size_t(1), size_t(3), size_t(1013), kMaxCount})
    for (int ti = 0; ti < kNumDataTypes; ++ti)
      for (int oi = 0; oi < kNumRedOps; ++oi)
        for (bool inPlace : {false, true}) {
          const auto t = static_cast<DataType>(ti);
          const auto op = static_cast<RedOp>(oi);
          const std::string bad = checkOne(comm, rank, n, t, op, count, inPlace, seed++, b);
          if (!bad.empty() && failures++ < 10)
            std::fprintf(stderr, "count %zu type %d op %d %s: %s\n", count, ti, oi,
                         inPlace ? "in place" : "out of place", bad.c_str());
        }
  if (n <= kScatterGatherMaxRanks) failures += scatterGather(comm, rank, n, b);
  RANK_NCCL(ncclCommDestroy(comm));
  return failures == 0 ? 0 : 1;
}

int exactBody(int rank, int n, const ncclUniqueId& id) {
  std::vector<unsigned char> in(kBufferElems * 8), out(in.size());
  return matrix(rank, n, id, Buffers{in.data(), out.data()});
}

int sharedBody(int rank, int n, const ncclUniqueId& id) {
  void* in = nullptr;
  void* out = nullptr;
  RANK_NCCL(ncclMemAlloc(&in, kBufferElems * 8));
  RANK_NCCL(ncclMemAlloc(&out, kBufferElems * 8));
  const int rc = matrix(rank, n, id,
                        Buffers{static_cast<unsigned char*>(in), static_cast<unsigned char*>(out)});
  RANK_NCCL(ncclMemFree(in));
  RANK_NCCL(ncclMemFree(out));
  return rc;
}

class SingleCopyRanks : public ::testing::TestWithParam<int> {};

TEST_P(SingleCopyRanks, ExactEveryTypeOpAndPlacement) {
  // PLEXUS_SINGLE_COPY_MIN=2: every call but count 1 of the 1-byte types takes single copy.
  for (const char* minBytes : {"2", "64K"}) {
    auto out = runRanks(GetParam(), exactBody, singleCopyOptions(minBytes));
    EXPECT_EQ(describeFailures(out), "") << "PLEXUS_SINGLE_COPY_MIN=" << minBytes;
    if (GetParam() == 1) continue;  // one rank: nothing to copy from, no INFO line
    if (contains(out[0].output, kOffLine)) GTEST_SKIP() << out[0].output;
    for (const auto& o : out) EXPECT_TRUE(contains(o.output, kOnLine)) << o.output;
  }
}

std::string ranksName(const ::testing::TestParamInfo<int>& p) {
  return std::to_string(p.param) + "ranks";
}

// Buffers from ncclMemAlloc: every rank maps its peers' buffers and reduces straight from them.
TEST_P(SingleCopyRanks, ZeroCopyFromNcclMemAlloc) {
  RunOptions o = singleCopyOptions("64K");
  o.env["PLEXUS_DEBUG_SUBSYS"] = "INIT,COLL";
  auto out = runRanks(GetParam(), sharedBody, o);
  EXPECT_EQ(describeFailures(out), "");
  if (GetParam() == 1) return;
  if (contains(out[0].output, kOffLine)) GTEST_SKIP() << out[0].output;
  for (const auto& r : out) EXPECT_TRUE(contains(r.output, kZeroCopyLine)) << r.output;
}

const char* const kAutoLine = "zero copy for all-reduces of at least";

RunOptions autoOptions() {
  RunOptions o = singleCopyOptions("64K");
  o.env["PLEXUS_SINGLE_COPY"] = "auto";
  o.env["PLEXUS_DEBUG_SUBSYS"] = "INIT,COLL";
  return o;
}

// The default (auto): ncclMemAlloc's buffers on every rank take zero copy from 64 KiB (40001
// elements of 4 and 8 bytes), every other call the slots, all exact.
TEST_P(SingleCopyRanks, AutoTakesZeroCopyWhenEveryRankUsesNcclMemAlloc) {
  auto out = runRanks(GetParam(), sharedBody, autoOptions());
  EXPECT_EQ(describeFailures(out), "");
  if (GetParam() == 1) return;
  if (contains(out[0].output, kOffLine)) GTEST_SKIP() << out[0].output;
  for (const auto& r : out) {
    EXPECT_TRUE(contains(r.output, kAutoLine)) << r.output;
    EXPECT_TRUE(contains(r.output, kZeroCopyLine)) << r.output;
    EXPECT_FALSE(contains(r.output, kOnLine)) << r.output;
  }
}

// Rank 0 alone uses ncclMemAlloc: it offers, its peers decline, every call runs the slot plan.
TEST_P(SingleCopyRanks, AutoKeepsTheSlotsWhenOneRanksBuffersArePlain) {
  auto out = runRanks(
      GetParam(),
      [](int rank, int n, const ncclUniqueId& id) {
        return rank == 0 ? sharedBody(rank, n, id) : exactBody(rank, n, id);
      },
      autoOptions());
  EXPECT_EQ(describeFailures(out), "");
  if (GetParam() == 1) return;
  if (contains(out[0].output, kOffLine)) GTEST_SKIP() << out[0].output;
  for (const auto& r : out) {
    EXPECT_TRUE(contains(r.output, kAutoLine)) << r.output;
    EXPECT_FALSE(contains(r.output, kZeroCopyLine)) << r.output;
  }
}

// Each rank holds shared and plain buffers and picks per call: every rank shared (zero copy),
// every rank plain, and one rank plain (a different one each time), 30 rounds of 4 MB+4 B float
// and 2 MB+8 B int64 sums and maxes, exact every time, on 2, 3 and 4 ranks.
int switchingBody(int rank, int n, const ncclUniqueId& id) {
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  const size_t bytes = (size_t(4) << 20) + 8 + kGuard * 8;
  void* shared[2] = {nullptr, nullptr};
  RANK_NCCL(ncclMemAlloc(&shared[0], bytes));
  RANK_NCCL(ncclMemAlloc(&shared[1], bytes));
  std::vector<unsigned char> plain[2] = {std::vector<unsigned char>(bytes),
                                         std::vector<unsigned char>(bytes)};
  int failures = 0;
  for (int round = 0; round < 30; ++round) {
    const int kind = round % 3;
    const bool mine = kind == 0 || (kind == 2 && rank != (round / 3) % n);
    Buffers b = mine ? Buffers{static_cast<unsigned char*>(shared[0]),
                               static_cast<unsigned char*>(shared[1])}
                     : Buffers{plain[0].data(), plain[1].data()};
    const bool wide = round % 2 == 0;
    const DataType t = wide ? DataType::kInt64 : DataType::kFloat32;
    const size_t count = wide ? (size_t(1) << 18) + 1 : (size_t(1) << 20) + 1;
    const RedOp op = round % 4 < 2 ? RedOp::kSum : RedOp::kMax;
    const std::string bad =
        checkOne(comm, rank, n, t, op, count, round % 5 == 0, static_cast<uint64_t>(round) + 77, b);
    if (!bad.empty() && failures++ < 5)
      std::fprintf(stderr, "round %d (%s): %s\n", round, mine ? "shared" : "plain", bad.c_str());
  }
  RANK_NCCL(ncclCommDestroy(comm));
  RANK_NCCL(ncclMemFree(shared[0]));
  RANK_NCCL(ncclMemFree(shared[1]));
  return failures == 0 ? 0 : 1;
}

TEST_P(SingleCopyRanks, AutoChoosesPerCallAlikeOnEveryRank) {
  if (GetParam() == 1) GTEST_SKIP() << "one rank: nothing to choose";
  auto out = runRanks(GetParam(), switchingBody, autoOptions());
  EXPECT_EQ(describeFailures(out), "");
  if (contains(out[0].output, kOffLine)) GTEST_SKIP() << out[0].output;
  for (const auto& r : out) EXPECT_TRUE(contains(r.output, kZeroCopyLine)) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Ranks, SingleCopyRanks, ::testing::Values(1, 2, 3, 4), ranksName);

// Auto: a rank that does not enter the all-reduce is named at PLEXUS_TIMEOUT by the ranks that
// offered zero copy, and a rank killed before it is named within a second or so.
TEST(SingleCopy, AutoOfferNamesAMissingOrKilledRank) {
  for (const bool kill : {false, true}) {
    RunOptions o = autoOptions();
    o.env["PLEXUS_TIMEOUT"] = "2";
    const auto t0 = std::chrono::steady_clock::now();
    auto out = runRanks(
        3,
        [kill](int rank, int n, const ncclUniqueId& id) {
          ncclComm_t comm;
          RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
          void* buf = nullptr;
          RANK_NCCL(ncclMemAlloc(&buf, size_t(4) << 20));
          if (rank == 2) {
            if (kill) raise(SIGKILL);
            std::this_thread::sleep_for(std::chrono::seconds(5));  // never calls
            ncclCommAbort(comm);
            return 0;
          }
          const ncclResult_t r =
              ncclAllReduce(buf, buf, size_t(1) << 20, ncclFloat32, ncclSum, comm, nullptr);
          RANK_CHECK(r != ncclSuccess, "the all-reduce completed without rank 2");
          std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
          ncclCommAbort(comm);
          ncclMemFree(buf);
          return 0;
        },
        o);
    if (contains(out[0].output, kOffLine)) GTEST_SKIP() << out[0].output;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (int r : {0, 1}) {
      const auto& s = out[static_cast<size_t>(r)].output;
      EXPECT_EQ(out[static_cast<size_t>(r)].exitCode, 0) << s;
      EXPECT_TRUE(contains(s, "ERROR: ")) << s;
      EXPECT_TRUE(contains(s, "rank 2 (host")) << s;
      // The first rank to find rank 2 gone or late blames it to the other, which says so
      // ("failed or exited: rank 1 found it first").
      EXPECT_TRUE(contains(s, kill ? "exited" : "its offer")) << s;
      const size_t at = s.find("ERROR: ");
      if (at != std::string::npos)
        std::printf("%s, rank %d: %s\n", kill ? "killed" : "missing", r,
                    s.substr(at, s.find('\n', at) - at).c_str());
    }
    EXPECT_LT(seconds, kill ? 20.0 : 30.0);
  }
}

TEST(SingleCopy, KilledPeerIsNamedBySurvivors) {
  const auto t0 = std::chrono::steady_clock::now();
  auto out = runRanks(
      3,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<float> buf(size_t(4) << 20, 1.0f);  // 16 MB: single copy
        for (int i = 0; i < 50; ++i) {
          if (i == 1 && rank == 2) raise(SIGKILL);
          const ncclResult_t r = ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32,
                                               ncclSum, comm, nullptr);
          if (r != ncclSuccess) {
            RANK_CHECK(r == ncclRemoteError, "result %d", r);
            std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
            ncclCommAbort(comm);
            return 0;
          }
        }
        std::fprintf(stderr, "no error after the peer died\n");
        return 1;
      },
      singleCopyOptions("1M"));
  if (contains(out[0].output, kOffLine)) GTEST_SKIP() << out[0].output;
  EXPECT_EQ(out[2].exitCode, 128 + SIGKILL);
  for (int r : {0, 1}) {
    const auto& o = out[static_cast<size_t>(r)];
    EXPECT_EQ(o.exitCode, 0) << o.output;
    EXPECT_TRUE(contains(o.output, "ERROR: ")) << o.output;
    EXPECT_TRUE(contains(o.output, "rank 2 (host")) << o.output;
    const size_t at = o.output.find("ERROR: ");
    if (at != std::string::npos)
      std::printf("rank %d: %s\n", r, o.output.substr(at, o.output.find('\n', at) - at).c_str());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));
}

// Makes process_vm_readv fail with EPERM in this process (as a container's seccomp profile may);
// false when the filter cannot be installed.
bool forbidCrossMemoryAttach() {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// Rank 1 cannot use cross-memory attach: every rank keeps the slots, says why in one INFO line,
// and the results stay exact.
TEST(SingleCopy, FallsBackToSlotsWhereCrossMemoryAttachFails) {
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) {
        if (rank == 1 && !forbidCrossMemoryAttach()) {
          std::fprintf(stderr, "SECCOMP UNAVAILABLE\n");
          return 0;
        }
        std::vector<unsigned char> in(kBufferElems * 8), res(in.size());
        return matrix(rank, n, id, Buffers{in.data(), res.data()});
      },
      singleCopyOptions("64K"));
  if (contains(out[1].output, "SECCOMP UNAVAILABLE")) GTEST_SKIP() << "no seccomp filter here";
  EXPECT_EQ(describeFailures(out), "");
  for (const auto& r : out) {
    EXPECT_TRUE(contains(r.output, kOffLine)) << r.output;
    EXPECT_TRUE(contains(r.output, "rank 1 cannot read rank 0")) << r.output;
    EXPECT_TRUE(contains(r.output, "Operation not permitted")) << r.output;
    EXPECT_FALSE(contains(r.output, kOnLine)) << r.output;
  }
  const size_t at = out[0].output.find("single copy (PLEXUS_SINGLE_COPY");
  if (at != std::string::npos)
    std::printf("%s\n", out[0].output.substr(at, out[0].output.find('\n', at) - at).c_str());
}

TEST(SingleCopy, BadModeIsNamed) {
  RunOptions o = singleCopyOptions("1M");
  o.env["PLEXUS_SINGLE_COPY"] = "yes";
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        const ncclResult_t r = ncclCommInitRank(&comm, n, id, rank);
        RANK_CHECK(r != ncclSuccess, "init accepted PLEXUS_SINGLE_COPY=yes");
        std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(nullptr));
        return 0;
      },
      o);
  for (const auto& r : out) EXPECT_TRUE(contains(r.output, "PLEXUS_SINGLE_COPY=yes")) << r.output;
}

}  // namespace
}  // namespace plexus::testing
