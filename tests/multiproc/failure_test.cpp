// Failures are loud and bounded: a connection without the job's secret is dropped and logged while
// init goes on; a rank that never arrives fails init within the timeout naming it; a rank that dies
// makes its peers fail quickly naming it; mismatched calls and silent peers end in clear errors,
// never in a hang.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "runtime/unique_id.hpp"
#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

// Connects to the bootstrap root named by `id` and sends `bytes`.
void intrude(const ncclUniqueId& id, const std::string& bytes) {
  bootstrap::UniqueIdBytes raw;
  std::memcpy(raw.data(), id.internal, raw.size());
  auto uid = bootstrap::UniqueId::decode(raw);
  int fd = socket(uid.root.family(), SOCK_STREAM, 0);
  if (connect(fd, uid.root.sa(), uid.root.length) == 0 && !bytes.empty()) {
    ssize_t w = write(fd, bytes.data(), bytes.size());
    (void)w;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  close(fd);
}

TEST(Bootstrap, ConnectionWithoutTheSecretIsDroppedAndInitGoesOn) {
  RunOptions o;
  o.env = {{"PLEXUS_TIMEOUT", "30"}};
  auto out = runRanks(
      3,
      [](int rank, int n, const ncclUniqueId& id) {
        if (rank == 1) {
          // A stranger speaking the root's protocol with a wrong secret, and one sending garbage.
          std::string hello(400, '\0');
          uint32_t magic = 0x504c5852, version = 1;
          std::memcpy(hello.data(), &magic, 4);
          std::memcpy(hello.data() + 4, &version, 4);
          intrude(id, hello);
          intrude(id, std::string(600, 'x'));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        int v = 1, sum = 0;
        RANK_NCCL(ncclAllReduce(&v, &sum, 1, ncclInt32, ncclSum, comm, nullptr));
        RANK_CHECK(sum == n, "sum %d", sum);
        RANK_NCCL(ncclCommDestroy(comm));
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
  // Rank 0 hosts the root: it logged both drops.
  EXPECT_TRUE(contains(out[0].output, "did not present this job's secret")) << out[0].output;
}

TEST(Bootstrap, MissingRankFailsInitWithinTheTimeoutNamingIt) {
  RunOptions o;
  o.env = {{"PLEXUS_TIMEOUT", "3"}};
  auto t0 = Clock::now();
  auto out = runRanks(
      3,
      [](int rank, int n, const ncclUniqueId& id) {
        if (rank == 2) return 0;  // never joins
        ncclComm_t comm;
        ncclResult_t r = ncclCommInitRank(&comm, n, id, rank);
        RANK_CHECK(r == ncclRemoteError, "init returned %d", r);
        std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(nullptr));
        return 0;
      },
      o);
  auto elapsed = Clock::now() - t0;
  EXPECT_EQ(describeFailures(out), "");
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(contains(out[static_cast<size_t>(r)].output, "rank(s) 2 of 3 never reached"))
        << out[static_cast<size_t>(r)].output;
  }
  EXPECT_LT(elapsed, std::chrono::seconds(30));
}

TEST(Bootstrap, WrongRankCountIsRefusedWithAClearError) {
  RunOptions o;
  o.env = {{"PLEXUS_TIMEOUT", "3"}};
  auto out = runRanks(
      2,
      [](int rank, int, const ncclUniqueId& id) {
        ncclComm_t comm;
        // Rank 1 believes there are 3 ranks.
        ncclResult_t r = ncclCommInitRank(&comm, rank == 0 ? 2 : 3, id, rank);
        RANK_CHECK(r != ncclSuccess, "init succeeded");
        std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(nullptr));
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
  EXPECT_TRUE(contains(out[1].output, "every rank must pass the same nranks") ||
              contains(out[0].output, "every rank must pass the same nranks"))
      << out[0].output << out[1].output;
}

class PeerFailure : public ::testing::TestWithParam<const char*> {};

TEST_P(PeerFailure, KilledRankMakesEveryOtherRankFailNamingIt) {
  RunOptions o;
  o.env = {{"PLEXUS_TRANSPORTS", GetParam()}, {"PLEXUS_TIMEOUT", "60"}};
  auto t0 = Clock::now();
  auto out = runRanks(
      4,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<float> buf(1 << 20, 1.0f);
        // Rank 2 dies after its first all-reduce. A peer may still be in that one (a killed
        // process's unsent socket data dies with it), so any of the calls may fail.
        for (int i = 0; i < 100; ++i) {
          if (i == 1 && rank == 2) raise(SIGKILL);
          ncclResult_t r = ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum,
                                         comm, nullptr);
          if (r != ncclSuccess) {
            RANK_CHECK(r == ncclRemoteError, "result %d", r);
            std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
            ncclResult_t async = ncclSuccess;
            RANK_NCCL(ncclCommGetAsyncError(comm, &async));
            RANK_CHECK(async == ncclRemoteError, "async error %d", async);
            ncclCommAbort(comm);
            return 0;
          }
        }
        std::fprintf(stderr, "no error after the peer died\n");
        return 1;
      },
      o);
  auto elapsed = Clock::now() - t0;
  EXPECT_EQ(out[2].exitCode, 128 + SIGKILL);
  for (int r : {0, 1, 3}) {
    const auto& o2 = out[static_cast<size_t>(r)];
    EXPECT_EQ(o2.exitCode, 0) << o2.output;
    // Every survivor names the lost rank: directly, or through the abort reason its neighbour
    // passed on.
    EXPECT_TRUE(contains(o2.output, "ERROR: ")) << o2.output;
    EXPECT_TRUE(contains(o2.output, "rank 2 (host")) << o2.output;
  }
  EXPECT_LT(elapsed, std::chrono::seconds(30));
}

INSTANTIATE_TEST_SUITE_P(Transports, PeerFailure, ::testing::Values("shm", "tcp"));

TEST(Mismatch, DifferentCountsFailInsteadOfCorrupting) {
  RunOptions o;
  o.env = {{"PLEXUS_TIMEOUT", "20"}};
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<int> buf(100, 1);
        ncclResult_t r = ncclAllReduce(buf.data(), buf.data(), rank == 0 ? 10 : 20, ncclInt32,
                                       ncclSum, comm, nullptr);
        RANK_CHECK(r != ncclSuccess, "mismatched all-reduce succeeded");
        std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
        ncclCommAbort(comm);
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
  EXPECT_TRUE(contains(out[0].output + out[1].output, "same operations in the same order"))
      << out[0].output << out[1].output;
}

TEST(Timeout, SilentPeerMakesTheCallFailNamingWhatItWaitsFor) {
  RunOptions o;
  o.env = {{"PLEXUS_TIMEOUT", "2"}};
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        if (rank == 1) {
          std::this_thread::sleep_for(std::chrono::seconds(6));
          ncclCommAbort(comm);
          return 0;
        }
        int v = 1;
        auto t0 = Clock::now();
        ncclResult_t r = ncclAllReduce(&v, &v, 1, ncclInt32, ncclSum, comm, nullptr);
        auto secs = std::chrono::duration<double>(Clock::now() - t0).count();
        RANK_CHECK(r == ncclRemoteError, "result %d", r);
        RANK_CHECK(secs >= 1.5 && secs < 20.0, "failed after %.1f s", secs);
        std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
        ncclCommAbort(comm);
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
  EXPECT_TRUE(contains(out[0].output, "no progress for 2 s")) << out[0].output;
  EXPECT_TRUE(contains(out[0].output, "rank 1")) << out[0].output;
}

}  // namespace
}  // namespace plexus::testing
