// A rank that never arrives ends in an error bounded by PLEXUS_TIMEOUT, never in a hang, on every
// transport of the list (transport_list.cpp): one that never joins fails init naming it; one that
// joins but never calls the collective makes the call fail naming what it waits for.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

using Clock = std::chrono::steady_clock;

class RankNeverArrives : public OnEveryTransport {};

TEST_P(RankNeverArrives, AtInitFailsWithinTheTimeoutNamingIt) {
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
      optionsFor(transport(), 2));
  auto elapsed = Clock::now() - t0;
  EXPECT_EQ(describeFailures(out), "");
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(contains(out[static_cast<size_t>(r)].output, "rank(s) 2 of 3 never reached"))
        << out[static_cast<size_t>(r)].output;
  }
  EXPECT_LT(elapsed, std::chrono::seconds(20));
}

TEST_P(RankNeverArrives, AtACollectiveMakesTheCallFailNamingWhatItWaitsFor) {
  // Rank 1 stays (without calling) until rank 0 has its error, at most 20 s.
  void* mem = mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* rank0Done = new (mem) std::atomic<int>(0);
  auto out = runRanks(
      2,
      [rank0Done](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        if (rank == 1) {
          auto until = Clock::now() + std::chrono::seconds(20);
          while (rank0Done->load() == 0 && Clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          ncclCommAbort(comm);
          return 0;
        }
        int v = 1;
        auto t0 = Clock::now();
        ncclResult_t r = ncclAllReduce(&v, &v, 1, ncclInt32, ncclSum, comm, nullptr);
        auto secs = std::chrono::duration<double>(Clock::now() - t0).count();
        rank0Done->store(1);
        RANK_CHECK(r == ncclRemoteError, "result %d", r);
        RANK_CHECK(secs >= 1.5 && secs < 15.0, "failed after %.1f s", secs);
        std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
        ncclCommAbort(comm);
        return 0;
      },
      optionsFor(transport(), 2));
  munmap(mem, sizeof(std::atomic<int>));
  EXPECT_EQ(describeFailures(out), "");
  EXPECT_TRUE(contains(out[0].output, "no progress for 2 s")) << out[0].output;
  EXPECT_TRUE(contains(out[0].output, "rank 1")) << out[0].output;
}

INSTANTIATE_TEST_SUITE_P(Transports, RankNeverArrives, ::testing::ValuesIn(transportList()),
                         transportName);

}  // namespace
}  // namespace plexus::testing
