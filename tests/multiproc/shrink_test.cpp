// ncclCommShrink (NCCL 2.27): after one rank of 8 is SIGKILLed, the survivors shrink with
// NCCL_SHRINK_ABORT and complete an exact all-reduce on the smaller communicator, on every
// transport of the list; without a failure, NCCL_SHRINK_DEFAULT excludes two live ranks (which do
// not call it); the C++ API's shrink excludes rank 0, so the new root is another rank's. (Split
// with NCCL_SPLIT_NOCOLOR: p2p_group_test.cpp, Group.SplitEvenOdd.)
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "plexus/plexus.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

// An exact all-reduce on `comm`, which must have `expectSize` ranks with this rank as
// `expectRank`: rank r contributes r + 1 in every element.
int exactOnNew(ncclComm_t comm, int expectRank, int expectSize) {
  int rank = -1, size = -1;
  RANK_NCCL(ncclCommUserRank(comm, &rank));
  RANK_NCCL(ncclCommCount(comm, &size));
  RANK_CHECK(rank == expectRank && size == expectSize, "new rank %d of %d, expected %d of %d", rank,
             size, expectRank, expectSize);
  std::vector<int64_t> v(100000, rank + 1), sum(v.size(), -1);
  RANK_NCCL(ncclAllReduce(v.data(), sum.data(), v.size(), ncclInt64, ncclSum, comm, nullptr));
  const int64_t want = int64_t{size} * (size + 1) / 2;
  for (size_t i = 0; i < sum.size(); ++i)
    RANK_CHECK(sum[i] == want, "element %zu: %lld, expected %lld", i,
               static_cast<long long>(sum[i]), static_cast<long long>(want));
  return 0;
}

class Shrink : public OnEveryTransport {};

TEST_P(Shrink, SurvivorsOfASigkilledRankShrinkAndAllReduceExactly) {
  constexpr int kDead = 5;
  auto out = runRanks(
      8,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<float> buf(1 << 16, 1.0f);
        bool failed = false;
        for (int i = 0; i < 1000 && !failed; ++i) {
          if (i == 2 && rank == kDead) raise(SIGKILL);
          failed = ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm,
                                 nullptr) != ncclSuccess;
        }
        RANK_CHECK(failed, "rank %d: no error after rank %d died", rank, kDead);
        std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
        int exclude[] = {kDead};
        ncclComm_t small = nullptr;
        RANK_NCCL(ncclCommShrink(comm, exclude, 1, &small, nullptr, NCCL_SHRINK_ABORT));
        RANK_CHECK(small != nullptr, "no communicator");
        if (exactOnNew(small, rank < kDead ? rank : rank - 1, n - 1) != 0) return 1;
        RANK_NCCL(ncclCommDestroy(small));
        ncclCommDestroy(comm);  // aborted by the shrink
        return 0;
      },
      optionsFor(transport(), 60));
  EXPECT_EQ(out[kDead].exitCode, 128 + SIGKILL);
  for (int r = 0; r < 8; ++r)
    if (r != kDead) {
      const auto& o = out[static_cast<size_t>(r)];
      EXPECT_EQ(o.exitCode, 0) << "rank " << r << ": " << o.output;
      EXPECT_TRUE(contains(o.output, "rank 5 (host")) << "rank " << r << ": " << o.output;
    }
}

INSTANTIATE_TEST_SUITE_P(Transports, Shrink, ::testing::ValuesIn(transportList()), transportName);

TEST(ShrinkDefault, ExcludesTwoLiveRanksThatDoNotCallIt) {
  auto out = runRanks(
      8,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        int64_t one = 1, total = 0;
        RANK_NCCL(ncclAllReduce(&one, &total, 1, ncclInt64, ncclSum, comm, nullptr));
        RANK_CHECK(total == n, "parent sum %lld", static_cast<long long>(total));
        if (rank == 2 || rank == 6) {
          RANK_NCCL(ncclCommDestroy(comm));
          return 0;
        }
        int exclude[] = {6, 2};
        ncclComm_t small = nullptr;
        RANK_NCCL(ncclCommShrink(comm, exclude, 2, &small, nullptr, NCCL_SHRINK_DEFAULT));
        const int expect = rank - (rank > 2 ? 1 : 0) - (rank > 6 ? 1 : 0);
        if (exactOnNew(small, expect, n - 2) != 0) return 1;
        RANK_NCCL(ncclCommDestroy(small));
        RANK_NCCL(ncclCommDestroy(comm));
        return 0;
      },
      optionsFor(transportNamed("shm"), 60));
  EXPECT_EQ(describeFailures(out), "");
}

TEST(ShrinkDefault, BadArgumentsAreRefused) {
  auto out = runRanks(2, [](int rank, int n, const ncclUniqueId& id) {
    ncclComm_t comm, small = nullptr;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    int self[] = {rank}, outside[] = {n}, twice[] = {1 - rank, 1 - rank};
    RANK_CHECK(ncclCommShrink(comm, self, 1, &small, nullptr, 0) == ncclInvalidUsage, "self");
    RANK_CHECK(ncclCommShrink(comm, outside, 1, &small, nullptr, 0) == ncclInvalidArgument, "n");
    RANK_CHECK(ncclCommShrink(comm, twice, 2, &small, nullptr, 0) == ncclInvalidArgument, "twice");
    RANK_CHECK(ncclCommShrink(comm, nullptr, 1, &small, nullptr, 0) == ncclInvalidArgument, "null");
    RANK_CHECK(ncclCommShrink(comm, nullptr, 0, &small, nullptr, 7) == ncclInvalidArgument, "flag");
    RANK_CHECK(small == nullptr, "a communicator after a refusal");
    RANK_NCCL(ncclCommDestroy(comm));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

// The C++ API: rank 0 is excluded, so the new communicator's root is started by old rank 1.
TEST(ShrinkCpp, ExcludingRankZero) {
  auto out = runRanks(
      4,
      [](int rank, int n, const ncclUniqueId& id) {
        UniqueId uid;
        std::memcpy(uid.bytes.data(), id.internal, uid.bytes.size());
        Communicator comm = Communicator::init(uid, rank, n);
        if (rank == 0) return 0;
        const int exclude[] = {0};
        Communicator small = comm.shrink(exclude);
        RANK_CHECK(small.rank() == rank - 1 && small.size() == n - 1, "new rank %d of %d",
                   small.rank(), small.size());
        std::vector<uint32_t> v(1000, static_cast<uint32_t>(rank));
        small.allReduce<uint32_t>(v);
        for (uint32_t x : v) RANK_CHECK(x == 6, "sum %u", x);
        return 0;
      },
      optionsFor(transportNamed("tcp"), 60));
  EXPECT_EQ(describeFailures(out), "");
}

}  // namespace
}  // namespace plexus::testing
