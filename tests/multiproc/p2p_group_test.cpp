// Point-to-point and group semantics: matched send/recv pairs in a group never deadlock, whatever
// their order; sends to and receives from oneself; all-to-all built from grouped p2p; several
// ranks of one process (ncclCommInitAll) driven from one thread; ncclCommSplit. The shm cases vary
// counts and orders; every transport of the list (transport_list.cpp) runs two of them.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

int32_t valueOf(int from, int to, size_t i) {
  return from * 1000003 + to * 1009 + static_cast<int32_t>(i);
}

// Every rank exchanges `count` ints with every other rank and itself inside one group;
// `recvFirst` issues the receives before the sends.
int allPairs(int rank, int n, const ncclUniqueId& id, size_t count, bool recvFirst) {
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(n)), in(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    out[static_cast<size_t>(p)].resize(count);
    in[static_cast<size_t>(p)].assign(count, -1);
    for (size_t i = 0; i < count; ++i) out[static_cast<size_t>(p)][i] = valueOf(rank, p, i);
  }
  RANK_NCCL(ncclGroupStart());
  for (int k = 0; k < 2; ++k) {
    bool doRecv = (k == 0) == recvFirst;
    for (int j = 0; j < n; ++j) {
      int p = (rank + j) % n;
      if (doRecv)
        RANK_NCCL(ncclRecv(in[static_cast<size_t>(p)].data(), count, ncclInt32, p, comm, nullptr));
      else
        RANK_NCCL(ncclSend(out[static_cast<size_t>(p)].data(), count, ncclInt32, p, comm, nullptr));
    }
  }
  RANK_NCCL(ncclGroupEnd());
  for (int p = 0; p < n; ++p)
    for (size_t i = 0; i < count; ++i)
      RANK_CHECK(in[static_cast<size_t>(p)][i] == valueOf(p, rank, i), "from %d elem %zu: %d", p, i,
                 in[static_cast<size_t>(p)][i]);
  RANK_NCCL(ncclCommDestroy(comm));
  return 0;
}

struct P2PCase {
  int nranks;
  size_t count;
  bool recvFirst;
};

RunOptions p2pOptions(const TransportSetup& t) {
  RunOptions o = optionsFor(t, 60);
  o.env["PLEXUS_SLOT_SIZE"] = "64K";
  o.env["PLEXUS_SLOTS"] = "2";
  return o;
}

std::string p2pName(const P2PCase& c) {
  return std::to_string(c.nranks) + "ranks_" + std::to_string(c.count) +
         (c.recvFirst ? "_recvfirst" : "_sendfirst");
}

class PointToPoint : public ::testing::TestWithParam<P2PCase> {};

TEST_P(PointToPoint, AllPairsInOneGroup) {
  auto c = GetParam();
  auto out = runRanks(
      c.nranks,
      [&](int r, int n, const ncclUniqueId& id) {
        return allPairs(r, n, id, c.count, c.recvFirst);
      },
      p2pOptions(transportNamed("shm")));
  EXPECT_EQ(describeFailures(out), "");
}

INSTANTIATE_TEST_SUITE_P(Shm, PointToPoint,
                         ::testing::Values(P2PCase{1, 1000, false}, P2PCase{2, 0, false},
                                           P2PCase{2, 1, true}, P2PCase{3, 100003, false},
                                           P2PCase{5, 7, true}, P2PCase{8, 65536, true}),
                         [](const ::testing::TestParamInfo<P2PCase>& p) {
                           return p2pName(p.param);
                         });

class PointToPointOnEveryTransport : public OnEveryTransport {};

TEST_P(PointToPointOnEveryTransport, AllPairsInOneGroup) {
  for (P2PCase c : {P2PCase{3, 100003, true}, P2PCase{5, 300007, false}}) {
    auto out = runRanks(
        c.nranks,
        [&](int r, int n, const ncclUniqueId& id) {
          return allPairs(r, n, id, c.count, c.recvFirst);
        },
        p2pOptions(transport()));
    EXPECT_EQ(describeFailures(out), "") << p2pName(c) << " over " << transport().name;
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, PointToPointOnEveryTransport,
                         ::testing::ValuesIn(transportList()), transportName);

TEST(PointToPoint, SendToSelfWithoutReceiveIsAnError) {
  auto out = runRanks(1, [](int r, int n, const ncclUniqueId& id) {
    ncclComm_t comm;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, r));
    int x = 1;
    ncclResult_t res = ncclSend(&x, 1, ncclInt32, 0, comm, nullptr);
    RANK_CHECK(res == ncclInvalidUsage, "got %d", res);
    RANK_CHECK(std::strstr(ncclGetLastError(comm), "matching") != nullptr, "%s",
               ncclGetLastError(comm));
    ncclCommDestroy(comm);
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

TEST(PointToPoint, InvalidPeerIsRejected) {
  auto out = runRanks(2, [](int r, int n, const ncclUniqueId& id) {
    ncclComm_t comm;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, r));
    int x = 1;
    RANK_CHECK(ncclSend(&x, 1, ncclInt32, 7, comm, nullptr) == ncclInvalidArgument, "peer 7");
    RANK_CHECK(std::strstr(ncclGetLastError(comm), "peer 7") != nullptr, "%s",
               ncclGetLastError(comm));
    RANK_CHECK(
        ncclAllReduce(nullptr, &x, 1, ncclInt32, ncclSum, comm, nullptr) == ncclInvalidArgument,
        "null send buffer");
    RANK_CHECK(ncclAllReduce(&x, &x, 1, ncclInt32, static_cast<ncclRedOp_t>(9), comm, nullptr) ==
                   ncclInvalidArgument,
               "bad op");
    RANK_CHECK(ncclAllReduce(&x, &x, 1, static_cast<ncclDataType_t>(40), ncclSum, comm, nullptr) ==
                   ncclInvalidArgument,
               "bad type");
    RANK_NCCL(ncclCommDestroy(comm));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

// Four ranks in one process, driven from one thread with groups (ncclCommInitAll).
TEST(Group, InitAllAndGroupedCollectivesFromOneThread) {
  auto out = runRanks(1, [](int, int, const ncclUniqueId&) {
    constexpr int kN = 4;
    ncclComm_t comms[kN];
    RANK_NCCL(ncclCommInitAll(comms, kN, nullptr));
    for (int i = 0; i < kN; ++i) {
      int rank = -1, count = -1;
      RANK_NCCL(ncclCommUserRank(comms[i], &rank));
      RANK_NCCL(ncclCommCount(comms[i], &count));
      RANK_CHECK(rank == i && count == kN, "rank %d count %d", rank, count);
    }
    const size_t n = 300001;
    std::vector<std::vector<float>> bufs(kN, std::vector<float>(n));
    for (int i = 0; i < kN; ++i)
      for (size_t j = 0; j < n; ++j)
        bufs[static_cast<size_t>(i)][j] = static_cast<float>((i + 1) * (j % 7));
    for (int rep = 0; rep < 3; ++rep) {
      RANK_NCCL(ncclGroupStart());
      for (int i = 0; i < kN; ++i)
        RANK_NCCL(ncclAllReduce(bufs[static_cast<size_t>(i)].data(),
                                bufs[static_cast<size_t>(i)].data(), n, ncclFloat32, ncclSum,
                                comms[i], nullptr));
      RANK_NCCL(ncclGroupEnd());
    }
    for (int i = 0; i < kN; ++i)
      for (size_t j = 0; j < n; ++j) {
        // First sum: (1+2+3+4)*(j%7); each later round multiplies by 4.
        const float expect = static_cast<float>(10 * (j % 7)) * 16.0f;
        RANK_CHECK(bufs[static_cast<size_t>(i)][j] == expect, "comm %d elem %zu: %f", i, j,
                   bufs[static_cast<size_t>(i)][j]);
      }
    for (int i = 0; i < kN; ++i) RANK_NCCL(ncclCommDestroy(comms[i]));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

TEST(Group, SplitEvenOdd) {
  auto out = runRanks(5, [](int rank, int n, const ncclUniqueId& id) {
    ncclComm_t comm, sub;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    int color = rank == 4 ? NCCL_SPLIT_NOCOLOR : rank % 2;
    RANK_NCCL(ncclCommSplit(comm, color, -rank, &sub, nullptr));
    if (rank == 4) {
      RANK_CHECK(sub == nullptr, "NOCOLOR rank got a communicator");
    } else {
      int subRank, subSize;
      RANK_NCCL(ncclCommUserRank(sub, &subRank));
      RANK_NCCL(ncclCommCount(sub, &subSize));
      RANK_CHECK(subSize == 2, "size %d", subSize);
      // key = -rank orders higher ranks first.
      int expectRank = rank % 2 == 0 ? (rank == 2 ? 0 : 1) : (rank == 3 ? 0 : 1);
      RANK_CHECK(subRank == expectRank, "rank %d got sub rank %d", rank, subRank);
      int64_t v = rank, sum = -1;
      RANK_NCCL(ncclAllReduce(&v, &sum, 1, ncclInt64, ncclSum, sub, nullptr));
      RANK_CHECK(sum == (rank % 2 == 0 ? 2 : 4), "sum %lld", static_cast<long long>(sum));
      RANK_NCCL(ncclCommDestroy(sub));
    }
    // The parent still works after the split.
    int64_t v = 1, sum = 0;
    RANK_NCCL(ncclAllReduce(&v, &sum, 1, ncclInt64, ncclSum, comm, nullptr));
    RANK_CHECK(sum == n, "parent sum %lld", static_cast<long long>(sum));
    RANK_NCCL(ncclCommDestroy(comm));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

}  // namespace
}  // namespace plexus::testing
