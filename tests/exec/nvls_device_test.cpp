// The nvls device executor on GPUs behind an NVSwitch: one process per GPU builds a multicast
// group, runs the nvls plan's all-reduce (f32 sum and avg of integer-valued inputs: exact) for
// tiny, odd and multi-chunk counts, out of place and in place, twice each (the barrier counters
// persist across calls). The gtest process never touches CUDA (a forked child could not): the
// probe that skips (one line) without 2 GPUs or without multicast runs in a child too.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <numeric>
#include <thread>
#include <vector>

#include "../common/fork_child.hpp"
#include "algorithms/builders.hpp"
#include "base/error.hpp"
#include "engine/cuda/device_executor.hpp"
#include "engine/cuda/nvls_executor.hpp"
#include "transports/cuda_ipc/fd_channel.hpp"
#include "transports/cuda_ipc/multicast_group.hpp"

namespace plexus::engine::cuda {
namespace {

using namespace std::chrono_literals;
using transport::cuda_ipc::FdChannel;
using transport::cuda_ipc::MulticastGroup;

int waitChild(pid_t pid, std::chrono::milliseconds limit = 120s) {
  return plexus::testing::waitChild(pid, limit);
}

// "" when GPUs 0..n-1 exist and support multicast, otherwise why not (asked in a child).
std::string noMulticastReason(int n) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = plexus::testing::forkChild([&] {
    std::string why;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < n) {
      why = "fewer than " + std::to_string(n) + " CUDA devices";
    }
    for (int d = 0; d < n && why.empty(); ++d) why = transport::cuda_ipc::multicastSupport(d).why;
    if (!why.empty()) {
      (void)!::write(fds[1], why.data(), why.size());
      ::_exit(3);
    }
  });
  ::close(fds[1]);
  char buf[1024] = {};
  const ssize_t got = ::read(fds[0], buf, sizeof(buf) - 1);
  ::close(fds[0]);
  if (waitChild(pid) == 0) return "";
  return got > 0 ? std::string(buf, static_cast<size_t>(got)) : "the device probe failed";
}

float inputValue(int rank, uint64_t i, int call) {
  return static_cast<float>((i * 7 + static_cast<uint64_t>(rank) * 13 + call) % 1000);
}

// Runs one all-reduce of `count` f32 on this rank and checks every element exactly.
void runCase(const MulticastGroup& g, int rank, int n, uint64_t count, RedOp op, bool inPlace,
             int call, cudaStream_t stream) {
  algo::BuildRequest q;
  q.nranks = n;
  q.rank = rank;
  q.count = count;
  q.fifoElems = 1 << 16;
  q.nchannels = 2;
  const exec::FlatPlan flat =
      exec::flatten(algo::buildNvls(q), DataType::kFloat32, op, exec::FlattenOptions{});
  DeviceMemory in(count * 4 + 16, "input"), outMem(count * 4 + 16, "output");
  std::vector<float> host(count);
  for (uint64_t i = 0; i < count; ++i) host[i] = inputValue(rank, i, call);
  checkCuda(cudaMemcpy(in.get(), host.data(), count * 4, cudaMemcpyHostToDevice), "input");
  void* out = inPlace ? in.get() : outMem.get();
  const NvlsCall c = nvlsCallFor(flat, in.get(), out);
  const auto channels = static_cast<size_t>(c.nchannels);
  DeviceMemory status(sizeof(exec::ExecStatus) * channels, "status");
  NvlsLaunch launch;
  launch.status = static_cast<exec::ExecStatus*>(status.get());
  launchNvlsAllReduce(c,
                      NvlsMemory{static_cast<unsigned char*>(g.unicast()),
                                 static_cast<unsigned char*>(g.multicast()), g.size()},
                      launch, stream);
  checkCuda(cudaStreamSynchronize(stream), "the nvls all-reduce");
  std::vector<exec::ExecStatus> st(channels);
  checkCuda(cudaMemcpy(st.data(), status.get(), channels * sizeof(exec::ExecStatus),
                       cudaMemcpyDeviceToHost),
            "status");
  for (const exec::ExecStatus& s : st) {
    if (s.code != exec::kExecOk)
      throwError(ErrorCode::kInternal, "%s", describeNvlsStatus(c, s).c_str());
  }
  checkCuda(cudaMemcpy(host.data(), out, count * 4, cudaMemcpyDeviceToHost), "output");
  for (uint64_t i = 0; i < count; ++i) {
    float sum = 0;
    for (int r = 0; r < n; ++r) sum += inputValue(r, i, call);
    const float want = op == RedOp::kAvg ? sum / static_cast<float>(n) : sum;
    if (host[i] != want)
      throwError(ErrorCode::kInternal,
                 "rank %d: count %llu element %llu is %g, expected %g (call %d, %s)", rank,
                 static_cast<unsigned long long>(count), static_cast<unsigned long long>(i),
                 static_cast<double>(host[i]), static_cast<double>(want), call,
                 inPlace ? "in place" : "out of place");
  }
}

void nvlsRank(uint64_t id, int rank, int n) {
  checkCuda(cudaSetDevice(rank), "cudaSetDevice");
  transport::cuda_ipc::FdListener listener = transport::cuda_ipc::FdListener::listen(id, rank);
  std::vector<int> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  auto mesh = transport::cuda_ipc::connectFdMesh(listener, rank, all, Deadline::after(60s));
  MulticastGroup g = MulticastGroup::create(mesh, rank, rank, 2 << 20, Deadline::after(60s));
  cudaStream_t stream = nullptr;
  checkCuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  int call = 0;
  for (uint64_t count : {uint64_t{1}, uint64_t{1001}, uint64_t{1500001}}) {
    for (int twice = 0; twice < 2; ++twice) {
      runCase(g, rank, n, count, RedOp::kSum, false, call++, stream);
      runCase(g, rank, n, count, RedOp::kSum, true, call++, stream);
      runCase(g, rank, n, count, RedOp::kAvg, false, call++, stream);
    }
  }
  cudaStreamDestroy(stream);
  // Every rank done before any unbinds.
  for (auto& [peer, ch] : mesh) ch.send(7, {}, {}, Deadline::after(60s));
  for (auto& [peer, ch] : mesh) ch.receiveTagged(7, "a peer's end", Deadline::after(60s));
}

void runRanks(int n) {
  const uint64_t id = (static_cast<uint64_t>(::getpid()) << 32) ^ 0x6e766c73;
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r)
    pids.push_back(plexus::testing::forkChild([=] { nvlsRank(id, r, n); }));
  for (int r = 0; r < n; ++r) EXPECT_EQ(waitChild(pids[static_cast<size_t>(r)]), 0) << "rank " << r;
}

TEST(Nvls, AllReduceTwoGpus) {
  const std::string why = noMulticastReason(2);
  if (!why.empty()) GTEST_SKIP() << "no multicast on 2 GPUs: " << why;
  runRanks(2);
}

TEST(Nvls, AllReduceEightGpus) {
  const std::string why = noMulticastReason(8);
  if (!why.empty()) GTEST_SKIP() << "no multicast on 8 GPUs: " << why;
  runRanks(8);
}

}  // namespace
}  // namespace plexus::engine::cuda
