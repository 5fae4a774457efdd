// The C++ API: RAII communicator from a unique id and from a launcher environment, typed blocking
// calls, asynchronous requests (wait, test, error), concurrent async sends/receives in any order,
// size checks, split, and errors surfacing as plexus::Error.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "plexus/plexus.hpp"
#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

UniqueId fromNccl(const ncclUniqueId& id) {
  UniqueId u;
  std::memcpy(u.bytes.data(), id.internal, u.bytes.size());
  return u;
}

TEST(CppApi, BlockingAndAsyncCollectives) {
  auto out = runRanks(3, [](int rank, int n, const ncclUniqueId& id) {
    Communicator comm = Communicator::init(fromNccl(id), rank, n, {"cpp-test"});
    RANK_CHECK(comm.rank() == rank && comm.size() == n, "rank/size");
    std::vector<int64_t> v(1001);
    std::iota(v.begin(), v.end(), rank * 10);
    comm.allReduce<int64_t>(v);  // in place
    for (size_t i = 0; i < v.size(); ++i)
      RANK_CHECK(v[i] == static_cast<int64_t>(3 * i + 30), "allreduce[%zu]=%lld", i,
                 static_cast<long long>(v[i]));

    std::vector<float> in(4096, static_cast<float>(rank + 1)), maxOut(4096);
    Request r = comm.allReduceAsync<float>(in, maxOut, RedOp::kMax);
    r.wait();
    RANK_CHECK(r.test() && !r.error(), "request state");
    RANK_CHECK(maxOut[0] == 3.0f && maxOut[4095] == 3.0f, "max %f", maxOut[0]);

    std::vector<int32_t> mine(5, rank), all(5 * static_cast<size_t>(n));
    comm.allGather<int32_t>(mine, all);
    for (int r2 = 0; r2 < n; ++r2)
      RANK_CHECK(all[static_cast<size_t>(r2) * 5 + 4] == r2, "allgather");

    std::vector<int32_t> rsIn(3 * static_cast<size_t>(n), 1), rsOut(3);
    comm.reduceScatter<int32_t>(rsIn, rsOut);
    RANK_CHECK(rsOut[0] == n && rsOut[2] == n, "reducescatter %d", rsOut[0]);

    std::vector<double> b(7, rank == 1 ? 2.5 : 0.0);
    comm.broadcast<double>(b, 1);
    RANK_CHECK(b[6] == 2.5, "broadcast %f", b[6]);

    // Async sends and receives, receives posted first, around the ring: never deadlock.
    std::vector<uint8_t> sendBuf(300000, static_cast<uint8_t>(rank)), recvBuf(300000, 255);
    int next = (rank + 1) % n, prev = (rank + n - 1) % n;
    Request rr = comm.recvAsync<uint8_t>(recvBuf, prev);
    Request rs = comm.sendAsync<uint8_t>(sendBuf, next);
    rr.wait();
    rs.wait();
    RANK_CHECK(recvBuf[0] == prev && recvBuf[299999] == prev, "p2p got %d", recvBuf[0]);
    comm.barrier();

    // Wrong sizes are rejected before anything is sent.
    bool threw = false;
    try {
      std::vector<int32_t> small(4);
      comm.allGather<int32_t>(mine, small);
    } catch (const Error& e) {
      threw = e.code() == ErrorCode::kInvalidArgument &&
              std::strstr(e.what(), "buffer sizes do not match") != nullptr;
    }
    RANK_CHECK(threw, "size mismatch not reported");

    Communicator sub = comm.split(rank == 0 ? 0 : 1, rank);
    RANK_CHECK(sub.size() == (rank == 0 ? 1 : 2), "split size %d", sub.size());
    int32_t one = 1, total = 0;
    sub.allReduce(&one, &total, 1, DataType::kInt32, RedOp::kSum, false).wait();
    RANK_CHECK(total == sub.size(), "sub sum %d", total);
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

// The C++ API goes through the same checks as the C API, with the same messages.
TEST(CppApi, ArgumentChecksMatchTheCApi) {
  Communicator comm = Communicator::init(UniqueId::create(), 0, 1);
  int32_t x = 1;
  auto message = [&](auto call) -> std::string {
    try {
      call();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      return e.what();
    }
    return "no error";
  };
  std::string e = message(
      [&] { comm.allReduce(&x, &x, 1, static_cast<DataType>(40), RedOp::kSum, false).wait(); });
  EXPECT_NE(e.find("rank 0 of 1"), std::string::npos) << e;
  EXPECT_NE(e.find("allreduce: invalid datatype 40"), std::string::npos) << e;
  e = message(
      [&] { comm.reduce(&x, &x, 1, DataType::kInt32, static_cast<RedOp>(7), 0, false).wait(); });
  EXPECT_NE(e.find("reduce: invalid or unsupported reduction op 7"), std::string::npos) << e;
  e = message([&] { comm.gather(&x, &x, 1, DataType::kInt32, 1, false).wait(); });
  EXPECT_NE(e.find("root 1 is not a rank of this 1-rank communicator"), std::string::npos) << e;
  e = message([&] { comm.recv(nullptr, 1, DataType::kInt32, 0, false).wait(); });
  EXPECT_NE(e.find("sendrecv: receive buffer is NULL with count 1"), std::string::npos) << e;
  e = message([&] { Communicator::init(UniqueId::create(), 1, 1); });
  EXPECT_NE(e.find("rank 1 is not in [0, 1)"), std::string::npos) << e;
}

TEST(CppApi, WaitForTimesOutWhileThePeerIsLateThenCompletes) {
  auto out = runRanks(2, [](int rank, int n, const ncclUniqueId& id) {
    Communicator comm = Communicator::init(fromNccl(id), rank, n);
    std::vector<int32_t> x(10, 1), y(10, 0);
    if (rank == 1) std::this_thread::sleep_for(std::chrono::milliseconds(600));
    Request r = comm.allReduceAsync<int32_t>(x, y);
    if (rank == 0) {
      RANK_CHECK(!r.waitFor(std::chrono::milliseconds(100)), "completed without the peer");
      RANK_CHECK(!r.test(), "test() true without the peer");
    }
    RANK_CHECK(r.waitFor(std::chrono::seconds(20)), "never completed");
    RANK_CHECK(y[9] == 2, "sum %d", y[9]);
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

TEST(CppApi, PeerFailureBecomesAnError) {
  RunOptions o;
  o.env = {{"PLEXUS_TIMEOUT", "30"}};
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) {
        Communicator comm = Communicator::init(fromNccl(id), rank, n);
        if (rank == 1) _exit(0);  // leaves without a word
        std::vector<int32_t> x(10, 1);
        Request r = comm.allReduceAsync<int32_t>(x, x);
        try {
          r.wait();
        } catch (const Error& e) {
          RANK_CHECK(e.code() == ErrorCode::kRemote, "code %d", static_cast<int>(e.code()));
          RANK_CHECK(std::strstr(e.what(), "rank 1") != nullptr, "%s", e.what());
          RANK_CHECK(r.error().has_value(), "error() empty");
          return 0;
        }
        return 1;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
}

TEST(CppApi, OptionsTimeoutBoundsAStalledOperation) {
  RunOptions o;
  o.env = {{"PLEXUS_TIMEOUT", "600"}};  // the option, not the variable, must decide
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) {
        Communicator::Options opts;
        opts.timeout = std::chrono::milliseconds(1500);
        Communicator comm = Communicator::init(fromNccl(id), rank, n, opts);
        if (rank == 1) {
          std::this_thread::sleep_for(std::chrono::seconds(5));
          comm.abort();
          return 0;
        }
        std::vector<int32_t> x(4, 1);
        auto t0 = std::chrono::steady_clock::now();
        try {
          comm.allReduce<int32_t>(x);
        } catch (const Error& e) {
          double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          RANK_CHECK(s > 1.0 && s < 4.5, "failed after %.1f s", s);
          RANK_CHECK(std::strstr(e.what(), "no progress for 1.5 s") != nullptr, "%s", e.what());
          return 0;
        }
        return 1;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
}

TEST(CppApi, FromEnvironmentLikePlexusRun) {
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId&) {
        // What plexus-run sets; each rank finds the root by itself (rank 0 starts it).
        setenv("PLEXUS_RANK", std::to_string(rank).c_str(), 1);
        setenv("PLEXUS_WORLD_SIZE", std::to_string(n).c_str(), 1);
        setenv("PLEXUS_SECRET", "00112233445566778899aabbccddeeff", 1);
        Communicator comm = Communicator::fromEnvironment();
        RANK_CHECK(comm.rank() == rank && comm.size() == n, "rank %d size %d", comm.rank(),
                   comm.size());
        int32_t v = rank + 1, s = 0;
        comm.allReduce(&v, &s, 1, DataType::kInt32, RedOp::kSum, false).wait();
        RANK_CHECK(s == 3, "sum %d", s);
        return 0;
      },
      [] {
        RunOptions o;
        o.rank0MakesId = false;
        o.env = {{"PLEXUS_COMM_ID", "127.0.0.1:" + std::to_string(freeLoopbackPort())}};
        return o;
      }());
  EXPECT_EQ(describeFailures(out), "");
}

}  // namespace
}  // namespace plexus::testing
