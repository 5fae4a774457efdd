// Failures are loud and bounded: a connection without the job's secret is dropped and logged while
// init goes on; a wrong rank count and mismatched calls end in clear errors, never in a hang. (A
// rank that dies or never arrives, on every transport: killed_rank_test.cpp, timeout_test.cpp.)
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
  runtime::UniqueIdBytes raw;
  std::memcpy(raw.data(), id.internal, raw.size());
  auto uid = runtime::UniqueId::decode(raw);
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

}  // namespace
}  // namespace plexus::testing
