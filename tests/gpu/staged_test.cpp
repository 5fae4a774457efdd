// The staged device path for real, without a GPU: fake device memory (host memory the fake pointer
// query calls device memory) and fake streams (host threads running the enqueued copies and flag
// operations in order) stand in for CUDA, while the proxy, the engine and the transports are the
// real ones, across 2 to 4 rank processes. Checks every collective and p2p (exact), that calls
// return before the stream reaches them and later stream work sees the result, one staging round
// per group, ncclCommGetAsyncError and abort releasing the streams, and the argument errors.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "plexus/plexus.hpp"
#include "tests/gpu/fake_device.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

constexpr int32_t kRankScale = 100000;

int32_t valueOf(int rank, size_t i) {
  return rank * kRankScale + static_cast<int32_t>(i);
}

// A fake device buffer of int32 values.
struct DevBuf {
  explicit DevBuf(size_t n) : count(n), p(static_cast<int32_t*>(fakeDeviceAlloc(n * 4))) {}
  ~DevBuf() { fakeDeviceFree(p); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  size_t count;
  int32_t* p;
};

enum class Op {
  kAllReduce,
  kAllReduceInPlace,
  kBroadcast,
  kReduce,
  kAllGather,
  kReduceScatter,
  kAllToAll,
  kGather,
  kScatter,
  kSendRecv
};

ncclResult_t issue(Op op, const DevBuf& in, DevBuf& out, size_t count, int rank, int n, int root,
                   ncclComm_t comm, cudaStream_t s) {
  switch (op) {
    case Op::kAllReduce:
      return ncclAllReduce(in.p, out.p, count, ncclInt32, ncclSum, comm, s);
    case Op::kAllReduceInPlace:
      return ncclAllReduce(out.p, out.p, count, ncclInt32, ncclSum, comm, s);
    case Op::kBroadcast:
      return ncclBroadcast(in.p, out.p, count, ncclInt32, root, comm, s);
    case Op::kReduce:
      return ncclReduce(in.p, out.p, count, ncclInt32, ncclSum, root, comm, s);
    case Op::kAllGather:
      return ncclAllGather(in.p, out.p, count, ncclInt32, comm, s);
    case Op::kReduceScatter:
      return ncclReduceScatter(in.p, out.p, count, ncclInt32, ncclSum, comm, s);
    case Op::kAllToAll:
      return ncclAlltoAll(in.p, out.p, count, ncclInt32, comm, s);
    case Op::kGather:
      return ncclGather(in.p, out.p, count, ncclInt32, root, comm, s);
    case Op::kScatter:
      return ncclScatter(in.p, out.p, count, ncclInt32, root, comm, s);
    case Op::kSendRecv: {
      ncclGroupStart();
      ncclSend(in.p, count, ncclInt32, (rank + 1) % n, comm, s);
      ncclRecv(out.p, count, ncclInt32, (rank + n - 1) % n, comm, s);
      return ncclGroupEnd();
    }
  }
  return ncclInternalError;
}

// Expected out[j] on `rank` (in[j] = valueOf(rank, j)); false where the output is not written.
bool expected(Op op, size_t j, size_t count, int rank, int n, int root, int32_t* v) {
  int32_t sumRanks = kRankScale * n * (n - 1) / 2;
  size_t blk = j / count, i = j % count;
  switch (op) {
    case Op::kAllReduce:
    case Op::kAllReduceInPlace:
      *v = sumRanks + n * static_cast<int32_t>(j);
      return true;
    case Op::kReduce:
      *v = sumRanks + n * static_cast<int32_t>(j);
      return rank == root;
    case Op::kBroadcast:
      *v = valueOf(root, j);
      return true;
    case Op::kAllGather:
      *v = valueOf(static_cast<int>(blk), i);
      return true;
    case Op::kReduceScatter:
      *v = sumRanks + n * static_cast<int32_t>(static_cast<size_t>(rank) * count + j);
      return true;
    case Op::kAllToAll:
      *v = valueOf(static_cast<int>(blk), static_cast<size_t>(rank) * count + i);
      return true;
    case Op::kGather:
      *v = valueOf(static_cast<int>(blk), i);
      return rank == root;
    case Op::kScatter:
      *v = valueOf(root, static_cast<size_t>(rank) * count + j);
      return true;
    case Op::kSendRecv:
      *v = valueOf((rank + n - 1) % n, j);
      return true;
  }
  return false;
}

// One operation on fake device buffers: the input is written by "kernel" on the (held) stream, the
// call must return before the stream runs, and a "kernel" after it reads the result.
int runOne(Op op, int rank, int n, ncclComm_t comm, FakeStream& s) {
  const size_t count = 1031;
  const int root = 1 % n;
  bool wide = op == Op::kReduceScatter || op == Op::kAllToAll || op == Op::kScatter;
  bool gathers = op == Op::kAllGather || op == Op::kAllToAll || op == Op::kGather;
  DevBuf in(wide ? count * n : count), out(gathers ? count * n : count);
  std::fill(out.p, out.p + out.count, -1);
  s.closeGate();
  s.enqueue([&] {
    int32_t* dst = op == Op::kAllReduceInPlace ? out.p : in.p;
    for (size_t j = 0; j < in.count; ++j) dst[j] = valueOf(rank, j);
  });
  RANK_NCCL(issue(op, in, out, count, rank, n, root, comm, s.handle()));
  RANK_CHECK(out.p[0] == -1 || op == Op::kAllReduceInPlace,
             "op %d: output written before the "
             "stream reached the call",
             static_cast<int>(op));
  std::vector<int32_t> seen(out.count);
  s.enqueue([&] { std::memcpy(seen.data(), out.p, seen.size() * 4); });
  s.openGate();
  RANK_CHECK(s.synchronize(), "op %d: the stream did not finish", static_cast<int>(op));
  for (size_t j = 0; j < seen.size(); ++j) {
    int32_t want = 0;
    if (!expected(op, j, count, rank, n, root, &want)) want = -1;
    RANK_CHECK(seen[j] == want, "op %d elem %zu: %d, expected %d", static_cast<int>(op), j, seen[j],
               want);
  }
  return 0;
}

int everyOperation(int rank, int n, const ncclUniqueId& id) {
  installFakeDevice();
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  FakeStream s;
  for (Op op : {Op::kAllReduce, Op::kAllReduceInPlace, Op::kBroadcast, Op::kReduce, Op::kAllGather,
                Op::kReduceScatter, Op::kAllToAll, Op::kGather, Op::kScatter, Op::kSendRecv})
    if (int bad = runOne(op, rank, n, comm, s)) return bad;
  ncclResult_t async = ncclInternalError;
  RANK_NCCL(ncclCommGetAsyncError(comm, &async));
  RANK_CHECK(async == ncclSuccess, "async error %d", static_cast<int>(async));
  RANK_NCCL(ncclCommFinalize(comm));
  RANK_NCCL(ncclCommDestroy(comm));
  return 0;
}

class StagedOnEveryTransport : public OnEveryTransport {};

TEST_P(StagedOnEveryTransport, EveryCollectiveAndP2PTwoRanks) {
  RunOptions o = optionsFor(transport(), 60);
  // Linked statically: plugins are looked for next to the test, not next to libplexus.so.
  o.env["PLEXUS_PLUGIN_PATH"] = PLEXUS_TEST_PLUGIN_DIR;
  auto out = runRanks(2, everyOperation, o);
  EXPECT_EQ(describeFailures(out), "");
}

INSTANTIATE_TEST_SUITE_P(Transports, StagedOnEveryTransport, ::testing::ValuesIn(transportList()),
                         transportName);

TEST(Staged, EveryCollectiveAndP2PFourRanks) {
  auto out = runRanks(4, everyOperation);
  EXPECT_EQ(describeFailures(out), "");
}

TEST(Staged, GroupIsOneStagingRoundAndStreamsOfAGroupJoin) {
  auto out = runRanks(3, [](int rank, int n, const ncclUniqueId& id) {
    installFakeDevice();
    ncclComm_t comm;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    FakeStream s1, s2;
    const size_t count = 257;
    DevBuf a(count), b(count), c(count), d(count * n);
    s1.enqueue([&] {
      for (size_t j = 0; j < count; ++j) a.p[j] = valueOf(rank, j);
    });
    uint64_t before = fakeFlagWrites();
    RANK_NCCL(ncclGroupStart());
    RANK_NCCL(ncclAllReduce(a.p, b.p, count, ncclInt32, ncclSum, comm, s1.handle()));
    RANK_NCCL(ncclAllGather(a.p, d.p, count, ncclInt32, comm, s2.handle()));
    RANK_NCCL(ncclSend(a.p, count, ncclInt32, (rank + 1) % n, comm, s1.handle()));
    RANK_NCCL(ncclRecv(c.p, count, ncclInt32, (rank + n - 1) % n, comm, s1.handle()));
    RANK_NCCL(ncclGroupEnd());
    RANK_CHECK(fakeFlagWrites() - before == 1, "%llu ready writes for one group",
               static_cast<unsigned long long>(fakeFlagWrites() - before));
    RANK_CHECK(s2.synchronize() && s1.synchronize(), "streams did not finish");
    int32_t sum = kRankScale * n * (n - 1) / 2;
    for (size_t j = 0; j < count; ++j) {
      RANK_CHECK(b.p[j] == sum + n * static_cast<int32_t>(j), "allreduce %zu: %d", j, b.p[j]);
      RANK_CHECK(c.p[j] == valueOf((rank + n - 1) % n, j), "recv %zu: %d", j, c.p[j]);
      for (int r = 0; r < n; ++r)
        RANK_CHECK(d.p[static_cast<size_t>(r) * count + j] == valueOf(r, j), "allgather");
    }
    RANK_NCCL(ncclCommDestroy(comm));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

// Two communicators of each process take turns on one stream, all enqueued before the stream
// runs: each round waits only for its own proxy, so neither blocks the other.
TEST(Staged, TwoCommunicatorsShareOneStream) {
  auto out = runRanks(2, [](int rank, int n, const ncclUniqueId& id) {
    installFakeDevice();
    ncclComm_t a, b;
    RANK_NCCL(ncclCommInitRank(&a, n, id, rank));
    RANK_NCCL(ncclCommSplit(a, 0, n - rank, &b, nullptr));  // reversed ranks
    FakeStream s;
    DevBuf x(100), y(100), z(100);
    s.closeGate();
    s.enqueue([&] {
      for (size_t j = 0; j < 100; ++j) x.p[j] = valueOf(rank, j);
    });
    RANK_NCCL(ncclAllReduce(x.p, y.p, 100, ncclInt32, ncclSum, a, s.handle()));
    RANK_NCCL(ncclAllReduce(y.p, z.p, 100, ncclInt32, ncclMax, b, s.handle()));
    RANK_NCCL(ncclAllReduce(z.p, x.p, 100, ncclInt32, ncclSum, a, s.handle()));
    s.openGate();
    RANK_CHECK(s.synchronize(), "the stream did not finish");
    for (size_t j = 0; j < 100; ++j)
      RANK_CHECK(x.p[j] == 2 * (kRankScale + 2 * static_cast<int32_t>(j)), "%zu: %d", j, x.p[j]);
    RANK_NCCL(ncclCommDestroy(b));
    RANK_NCCL(ncclCommDestroy(a));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

TEST(Staged, AsyncErrorReportsAFailedPeerWithoutBlockingAndReleasesTheStream) {
  RunOptions o;
  o.env["PLEXUS_TIMEOUT"] = "20";
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) {
        installFakeDevice();
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        if (rank == 1) {
          ncclCommAbort(comm);  // gone: rank 0's staged all-reduce must fail
          return 0;
        }
        FakeStream s;
        DevBuf in(64), result(64);
        RANK_NCCL(ncclAllReduce(in.p, result.p, 64, ncclInt32, ncclSum, comm, s.handle()));
        ncclResult_t async = ncclSuccess;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (async == ncclSuccess && std::chrono::steady_clock::now() < deadline) {
          auto t0 = std::chrono::steady_clock::now();
          RANK_NCCL(ncclCommGetAsyncError(comm, &async));
          RANK_CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200),
                     "ncclCommGetAsyncError blocked");
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        RANK_CHECK(async != ncclSuccess, "no async error within 30 s");
        RANK_CHECK(s.synchronize(30), "the stream was not released after the failure");
        RANK_CHECK(
            ncclAllReduce(in.p, result.p, 64, ncclInt32, ncclSum, comm, s.handle()) != ncclSuccess,
            "a staged call after the failure succeeded");
        ncclCommAbort(comm);
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
}

TEST(Staged, AbortReleasesAStreamThatHasNotReachedTheOperation) {
  auto out = runRanks(2, [](int rank, int n, const ncclUniqueId& id) {
    installFakeDevice();
    ncclComm_t comm;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    FakeStream s;
    DevBuf in(64), result(64);
    s.closeGate();  // the stream is busy with earlier work: the proxy waits for it
    RANK_NCCL(ncclAllReduce(in.p, result.p, 64, ncclInt32, ncclSum, comm, s.handle()));
    RANK_NCCL(ncclCommAbort(comm));
    s.openGate();
    RANK_CHECK(s.synchronize(30), "the stream still waits after ncclCommAbort");
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

TEST(Staged, ArgumentErrorsAndHostBuffersUnchanged) {
  auto out = runRanks(2, [](int rank, int n, const ncclUniqueId& id) {
    installFakeDevice();
    ncclComm_t comm;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    FakeStream s;
    DevBuf dev(16);
    std::vector<int32_t> host(16, rank + 1), hostOut(16, 0);
    RANK_CHECK(ncclAllReduce(host.data(), dev.p, 16, ncclInt32, ncclSum, comm, s.handle()) ==
                   ncclInvalidArgument,
               "mixed buffers accepted");
    std::string msg = ncclGetLastError(comm);
    RANK_CHECK(msg.find("sendbuff") != std::string::npos &&
                   msg.find("host memory") != std::string::npos &&
                   msg.find("recvbuff") != std::string::npos &&
                   msg.find("device memory") != std::string::npos,
               "message: %s", msg.c_str());
    s.capturing = true;
    RANK_CHECK(
        ncclAllReduce(dev.p, dev.p, 16, ncclInt32, ncclSum, comm, s.handle()) == ncclInvalidUsage,
        "capture accepted");
    msg = ncclGetLastError(comm);
    RANK_CHECK(msg.find("CUDA graph") != std::string::npos, "message: %s", msg.c_str());
    s.capturing = false;
    // Host buffers: blocking and exact, stream ignored, with device classification active.
    RANK_NCCL(ncclAllReduce(host.data(), hostOut.data(), 16, ncclInt32, ncclSum, comm, nullptr));
    for (int32_t v : hostOut) RANK_CHECK(v == n * (n + 1) / 2, "host all-reduce: %d", v);
    RANK_NCCL(ncclCommDestroy(comm));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

TEST(Staged, DeviceBufferWithoutUsableCudaIsAClearError) {
  auto out = runRanks(1, [](int rank, int n, const ncclUniqueId& id) {
    installFakeClassifierOnly();
    ncclComm_t comm;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    DevBuf dev(16);
    RANK_CHECK(
        ncclAllReduce(dev.p, dev.p, 16, ncclInt32, ncclSum, comm, nullptr) == ncclInvalidUsage,
        "device buffer accepted without CUDA");
    std::string msg = ncclGetLastError(comm);
    RANK_CHECK(msg.find("device memory but CUDA is not usable") != std::string::npos, "message: %s",
               msg.c_str());
    std::vector<int32_t> host(16, 3);
    RANK_NCCL(ncclAllReduce(host.data(), host.data(), 16, ncclInt32, ncclSum, comm, nullptr));
    RANK_CHECK(host[5] == 3, "host all-reduce of one rank: %d", host[5]);
    RANK_NCCL(ncclCommDestroy(comm));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

TEST(Staged, CppApiTakesTheStreamFromOptions) {
  auto out = runRanks(2, [](int rank, int n, const ncclUniqueId& id) {
    installFakeDevice();
    FakeStream s;
    plexus::UniqueId uid;
    std::memcpy(uid.bytes.data(), id.internal, uid.bytes.size());
    plexus::Communicator::Options o;
    o.stream = s.handle();
    auto comm = plexus::Communicator::init(uid, rank, n, o);
    DevBuf in(100), result(100);
    s.closeGate();
    s.enqueue([&] {
      for (size_t j = 0; j < 100; ++j) in.p[j] = valueOf(rank, j);
    });
    plexus::Request r =
        comm.allReduce(in.p, result.p, 100, plexus::DataType::kInt32, plexus::RedOp::kSum, false);
    RANK_CHECK(r.test(), "a device-buffer request is complete on return (stream order)");
    s.openGate();
    RANK_CHECK(s.synchronize(), "stream did not finish");
    for (size_t j = 0; j < 100; ++j)
      RANK_CHECK(result.p[j] == kRankScale + 2 * static_cast<int32_t>(j), "%zu: %d", j,
                 result.p[j]);
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

}  // namespace
}  // namespace plexus::testing
