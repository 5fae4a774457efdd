// PLEXUS_CHECK (runtime/call_check.hpp), on every transport of the list: a mismatched-count
// all-reduce and a mismatched-root broadcast fail on every rank with an error naming both calls
// (and the rank that differed), instead of hanging; matching calls of every kind, grouped ones and
// send/receive included, still give exact results with the check on; and the C++ API's per-
// communicator option turns it on without the environment variable.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../common/shared_board.hpp"
#include "plexus/plexus.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

constexpr int kRanks = 4;

class CallCheck : public OnEveryTransport {
 protected:
  RunOptions checked() const {
    RunOptions o = optionsFor(transport(), 60);
    o.env["PLEXUS_CHECK"] = "1";
    return o;
  }
};

// Prints the error of a call that had to fail, then aborts the communicator.
int reportFailure(ncclResult_t r, ncclComm_t comm, int rank) {
  RANK_CHECK(r != ncclSuccess, "rank %d: the mismatched call succeeded", rank);
  std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
  ncclCommAbort(comm);
  return 0;
}

// One exact all-reduce first (the check passes), so that the mismatch is not the first call.
int exactAllReduce(ncclComm_t comm, int rank, int n) {
  std::vector<int32_t> v(1024, rank + 1), sum(1024, -1);
  RANK_NCCL(ncclAllReduce(v.data(), sum.data(), v.size(), ncclInt32, ncclSum, comm, nullptr));
  for (int32_t s : sum) RANK_CHECK(s == n * (n + 1) / 2, "sum %d", s);
  return 0;
}

// Every rank's error names both calls; `odd` is the call of rank 2, `usual` that of the others.
void expectNamed(const std::vector<RankOutcome>& out, const std::string& odd,
                 const std::string& usual) {
  for (size_t r = 0; r < out.size(); ++r) {
    const std::string& o = out[r].output;
    EXPECT_EQ(out[r].exitCode, 0) << "rank " << r << ": " << o;
    EXPECT_TRUE(contains(o, "ERROR: ")) << "rank " << r << ": " << o;
    EXPECT_TRUE(contains(o, "rank 2 called " + odd)) << "rank " << r << ": " << o;
    EXPECT_TRUE(contains(o, "called " + usual)) << "rank " << r << ": " << o;
    size_t at = o.find("ERROR: ");
    if (at != std::string::npos && r < 2)
      std::printf("rank %zu: %s\n", r, o.substr(at, o.find('\n', at) - at).c_str());
  }
}

TEST_P(CallCheck, MismatchedCountAllReduceFailsEveryRankNamingBothCalls) {
  auto out = runRanks(
      kRanks,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        if (exactAllReduce(comm, rank, n) != 0) return 1;
        std::vector<float> buf(1024, 1.0f);
        const size_t count = rank == 2 ? 1000 : 1024;
        ncclResult_t r =
            ncclAllReduce(buf.data(), buf.data(), count, ncclFloat32, ncclSum, comm, nullptr);
        return reportFailure(r, comm, rank);
      },
      checked());
  expectNamed(out, "allReduce(count=1000, float, sum)", "allReduce(count=1024, float, sum)");
}

TEST_P(CallCheck, MismatchedRootBroadcastFailsEveryRankNamingBothCalls) {
  auto out = runRanks(
      kRanks,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        if (exactAllReduce(comm, rank, n) != 0) return 1;
        std::vector<int64_t> buf(4096, rank);
        const int root = rank == 2 ? 1 : 0;
        ncclResult_t r =
            ncclBroadcast(buf.data(), buf.data(), buf.size(), ncclInt64, root, comm, nullptr);
        return reportFailure(r, comm, rank);
      },
      checked());
  expectNamed(out, "broadcast(count=4096, int64, root=1)", "broadcast(count=4096, int64, root=0)");
}

// A send of 1000 floats meets a receive of 1024: the receiver fails naming both calls, and the
// sender's next call fails with the receiver's error. The receiver stays until the sender has its
// error: were it gone first, the sender could see its link close before its failure notice.
TEST_P(CallCheck, MismatchedSendReceiveFailsNamingBothCalls) {
  std::atomic<int>* senderDone = plexus::test::newShared<std::atomic<int>>();
  auto out = runRanks(
      2,
      [senderDone](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<float> buf(1024, 1.0f);
        ncclResult_t r = rank == 0 ? ncclSend(buf.data(), 1000, ncclFloat32, 1, comm, nullptr)
                                   : ncclRecv(buf.data(), 1024, ncclFloat32, 0, comm, nullptr);
        if (r == ncclSuccess && rank == 0)
          r = ncclAllReduce(buf.data(), buf.data(), 1, ncclFloat32, ncclSum, comm, nullptr);
        if (rank == 0) senderDone->store(1);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (rank == 1 && senderDone->load() == 0 && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        // The sender learns of the mismatch while this rank lives on (not when it exits).
        RANK_CHECK(rank == 0 || senderDone->load() == 1,
                   "the sender had no error 30 s after this rank found the mismatch");
        return reportFailure(r, comm, rank);
      },
      checked());
  plexus::test::deleteShared(senderDone);
  for (size_t r = 0; r < out.size(); ++r) {
    const std::string& o = out[r].output;
    EXPECT_EQ(out[r].exitCode, 0) << "rank " << r << ": " << o;
    EXPECT_TRUE(contains(o,
                         "rank 1 called recv(count=1024, float, from rank 0) while rank 0 "
                         "called send(count=1000, float, to rank 1)"))
        << "rank " << r << ": " << o;
  }
}

// Matching calls of every kind with the check on: exact results.
int matchingCalls(int rank, int n, const ncclUniqueId& id) {
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  const int tri = n * (n + 1) / 2;
  std::vector<int32_t> a(3000, rank + 1), b(3000, 0), all(3000 * static_cast<size_t>(n), -1);
  RANK_NCCL(ncclAllReduce(a.data(), b.data(), a.size(), ncclInt32, ncclSum, comm, nullptr));
  for (int32_t v : b) RANK_CHECK(v == tri, "allreduce %d", v);
  std::vector<int32_t> c(77, rank == 1 ? 42 : -1);
  RANK_NCCL(ncclBroadcast(c.data(), c.data(), c.size(), ncclInt32, 1, comm, nullptr));
  for (int32_t v : c) RANK_CHECK(v == 42, "broadcast %d", v);
  RANK_NCCL(ncclReduce(a.data(), b.data(), a.size(), ncclInt32, ncclMax, n - 1, comm, nullptr));
  if (rank == n - 1)
    for (int32_t v : b) RANK_CHECK(v == n, "reduce max %d", v);
  RANK_NCCL(ncclAllGather(a.data(), all.data(), a.size(), ncclInt32, comm, nullptr));
  for (size_t i = 0; i < all.size(); ++i)
    RANK_CHECK(all[i] == static_cast<int32_t>(i / a.size()) + 1, "allgather %d at %zu", all[i], i);
  RANK_NCCL(ncclReduceScatter(all.data(), b.data(), a.size(), ncclInt32, ncclSum, comm, nullptr));
  for (int32_t v : b) RANK_CHECK(v == n * (rank + 1), "reducescatter %d", v);
  // A group of mixed collectives and a ring of send/receive.
  int64_t x = rank, xs = -1, y = rank == 0 ? 7 : 0;
  std::vector<int32_t> sendBuf(500, rank), recvBuf(500, -1);
  RANK_NCCL(ncclGroupStart());
  RANK_NCCL(ncclAllReduce(&x, &xs, 1, ncclInt64, ncclSum, comm, nullptr));
  RANK_NCCL(ncclBroadcast(&y, &y, 1, ncclInt64, 0, comm, nullptr));
  RANK_NCCL(ncclSend(sendBuf.data(), sendBuf.size(), ncclInt32, (rank + 1) % n, comm, nullptr));
  RANK_NCCL(ncclRecv(recvBuf.data(), recvBuf.size(), ncclInt32, (rank + n - 1) % n, comm, nullptr));
  RANK_NCCL(ncclGroupEnd());
  RANK_CHECK(xs == n * (n - 1) / 2 && y == 7, "group: sum %lld bcast %lld",
             static_cast<long long>(xs), static_cast<long long>(y));
  for (int32_t v : recvBuf) RANK_CHECK(v == (rank + n - 1) % n, "recv %d", v);
  RANK_NCCL(ncclCommDestroy(comm));
  return 0;
}

TEST_P(CallCheck, MatchingCallsGiveExactResults) {
  auto out = runRanks(kRanks, matchingCalls, checked());
  EXPECT_EQ(describeFailures(out), "");
}

INSTANTIATE_TEST_SUITE_P(Transports, CallCheck, ::testing::ValuesIn(transportList()),
                         transportName);

// Communicator::Options::check turns the check on for one communicator, PLEXUS_CHECK unset.
TEST(CallCheckOption, PerCommunicatorOptionNamesTheMismatch) {
  RunOptions o = optionsFor(transportNamed("shm"), 60);
  auto out = runRanks(
      3,
      [](int rank, int n, const ncclUniqueId& id) {
        UniqueId uid;
        std::memcpy(uid.bytes.data(), id.internal, uid.bytes.size());
        Communicator::Options opts;
        opts.check = 1;
        Communicator comm = Communicator::init(uid, rank, n, opts);
        std::vector<uint32_t> v(rank == 0 ? 10 : 12, 1);
        try {
          comm.allReduce<uint32_t>(v);
        } catch (const Error& e) {
          std::fprintf(stderr, "ERROR: %s\n", e.what());
          return 0;
        }
        std::fprintf(stderr, "rank %d: no error\n", rank);
        return 1;
      },
      o);
  for (size_t r = 0; r < out.size(); ++r) {
    EXPECT_EQ(out[r].exitCode, 0) << out[r].output;
    EXPECT_TRUE(contains(out[r].output, "called allReduce(count=10, uint32, sum)"))
        << out[r].output;
    EXPECT_TRUE(contains(out[r].output, "called allReduce(count=12, uint32, sum)"))
        << out[r].output;
  }
}

}  // namespace
}  // namespace plexus::testing
