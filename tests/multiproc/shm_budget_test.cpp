// The shm transport's budget: FIFOs are sized to the shared-memory budget, and FIFOs the user made
// too large for it fail with an error naming the budget. (What a SIGKILL leaves behind and how fast
// survivors learn of it, on every transport: killed_rank_test.cpp.)
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

// FIFOs the user sized beyond the budget: every rank fails at its first connection, naming the
// budget and the knobs, instead of exhausting the host.
TEST(ShmBudget, ExhaustedBudgetFailsNamingTheKnob) {
  RunOptions o;
  o.env = {{"PLEXUS_TRANSPORTS", "shm"},
           {"PLEXUS_TIMEOUT", "30"},
           {"PLEXUS_SHM_BUDGET", "1M"},
           {"PLEXUS_SLOT_SIZE", "128K"},
           {"PLEXUS_SLOTS", "8"}};
  auto t0 = Clock::now();
  auto out = runRanks(
      4,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<int32_t> buf(size_t(1) << 16, rank);  // above PLEXUS_SMALL_MAX: connects
        ncclResult_t r =
            ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclInt32, ncclSum, comm, nullptr);
        RANK_CHECK(r != ncclSuccess, "the all-reduce succeeded within a 1 MiB budget");
        std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
        ncclCommAbort(comm);
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
  for (const auto& r : out) {
    // The share is checked before anything is created or linked, so each rank fails on its own.
    EXPECT_TRUE(contains(r.output, "PLEXUS_SHM_BUDGET=1048576 bytes per host / 4 ranks"))
        << r.output;
    EXPECT_TRUE(contains(r.output, "PLEXUS_SLOTS=8 x PLEXUS_SLOT_SIZE=131072")) << r.output;
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(20));
}

// Left to choose, init sizes the FIFOs so that every rank's FIFOs from all its same-host peers fit
// its share of the budget, and the job runs.
TEST(ShmBudget, FifosAreSizedToFitTheBudget) {
  RunOptions o;
  o.env = {{"PLEXUS_TRANSPORTS", "shm"},
           {"PLEXUS_TIMEOUT", "30"},
           {"PLEXUS_SHM_BUDGET", "1M"},
           {"PLEXUS_DEBUG", "INFO"},
           {"PLEXUS_DEBUG_SUBSYS", "INIT"}};
  auto out = runRanks(
      4,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<int32_t> buf(100003, rank + 1);
        RANK_NCCL(
            ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclInt32, ncclSum, comm, nullptr));
        for (int32_t v : buf) RANK_CHECK(v == 10, "got %d, expected 1+2+3+4", v);
        RANK_NCCL(ncclCommDestroy(comm));
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
  for (const auto& r : out)
    EXPECT_TRUE(contains(r.output,
                         "4 ranks on one host: FIFOs of 8 slots of 4096 bytes instead "
                         "of 8 of 131072"))
        << r.output;
}

}  // namespace
}  // namespace plexus::testing
