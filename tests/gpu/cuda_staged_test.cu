// Device buffers on a real GPU through libplexus.so (the staged path): stream order (a kernel
// writes the input, the all-reduce on the same stream sees it, a kernel after it reads the
// result), a group, and the graph-capture error. Ranks share the one GPU. Without a usable device
// every test skips with one line. Ranks are forked before any CUDA call (a probe process asks for
// the device), as CUDA does not survive fork.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

bool deviceUsable() {
  static int usable = -1;
  if (usable < 0) {
    auto out = runRanks(
        1,
        [](int, int, const ncclUniqueId&) {
          int n = 0;
          return cudaGetDeviceCount(&n) == cudaSuccess && n > 0 ? 0 : 3;
        },
        RunOptions{{}, 60, false});
    usable = out.size() == 1 && out[0].exitCode == 0 ? 1 : 0;
  }
  return usable == 1;
}

#define SKIP_WITHOUT_DEVICE() \
  if (!deviceUsable()) GTEST_SKIP() << "no usable CUDA device (cudaGetDeviceCount failed or 0)"

#define RANK_CUDA(call)                                                     \
  do {                                                                      \
    cudaError_t e_ = (call);                                                \
    RANK_CHECK(e_ == cudaSuccess, "%s: %s", #call, cudaGetErrorString(e_)); \
  } while (0)

__global__ void fill(int32_t* p, size_t n, int32_t base) {
  for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    p[i] = base + static_cast<int32_t>(i);
}

__global__ void scaleInto(const int32_t* src, int32_t* dst, size_t n, int32_t factor) {
  for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    dst[i] = src[i] * factor;
}

int streamOrder(int rank, int n, const ncclUniqueId& id) {
  RANK_CUDA(cudaSetDevice(0));
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  const size_t count = (1 << 20) + 3;
  int32_t *in, *out, *after;
  RANK_CUDA(cudaMalloc(&in, count * 4));
  RANK_CUDA(cudaMalloc(&out, count * 4));
  RANK_CUDA(cudaMalloc(&after, count * 4));
  cudaStream_t s;
  RANK_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  for (int iter = 0; iter < 3; ++iter) {
    fill<<<64, 256, 0, s>>>(in, count, rank * 1000 + iter);
    RANK_NCCL(ncclAllReduce(in, out, count, ncclInt32, ncclSum, comm, s));
    scaleInto<<<64, 256, 0, s>>>(out, after, count, 2);
    RANK_CUDA(cudaStreamSynchronize(s));
    std::vector<int32_t> host(count);
    RANK_CUDA(cudaMemcpy(host.data(), after, count * 4, cudaMemcpyDeviceToHost));
    int32_t base = 1000 * n * (n - 1) / 2 + n * iter;
    for (size_t i = 0; i < count; i += 4099)
      RANK_CHECK(host[i] == 2 * (base + n * static_cast<int32_t>(i)), "iter %d elem %zu: %d", iter,
                 i, host[i]);
  }
  ncclResult_t async;
  RANK_NCCL(ncclCommGetAsyncError(comm, &async));
  RANK_CHECK(async == ncclSuccess, "async error %d", static_cast<int>(async));
  RANK_NCCL(ncclCommDestroy(comm));
  cudaFree(in);
  cudaFree(out);
  cudaFree(after);
  cudaStreamDestroy(s);
  return 0;
}

TEST(Staged, StreamOrderTwoRanksOneGpu) {
  SKIP_WITHOUT_DEVICE();
  EXPECT_EQ(describeFailures(runRanks(2, streamOrder)), "");
}

TEST(Staged, StreamOrderFourRanksOneGpuOverTcp) {
  SKIP_WITHOUT_DEVICE();
  RunOptions o;
  o.env["PLEXUS_TRANSPORTS"] = "tcp";
  EXPECT_EQ(describeFailures(runRanks(4, streamOrder, o)), "");
}

TEST(Staged, GroupOfCollectivesAndP2P) {
  SKIP_WITHOUT_DEVICE();
  auto out = runRanks(2, [](int rank, int n, const ncclUniqueId& id) {
    RANK_CUDA(cudaSetDevice(0));
    ncclComm_t comm;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    const size_t count = 4096;
    int32_t *a, *b, *c;
    RANK_CUDA(cudaMalloc(&a, count * 4));
    RANK_CUDA(cudaMalloc(&b, count * 4));
    RANK_CUDA(cudaMalloc(&c, count * 4));
    cudaStream_t s;
    RANK_CUDA(cudaStreamCreate(&s));
    fill<<<16, 256, 0, s>>>(a, count, rank * 100);
    RANK_NCCL(ncclGroupStart());
    RANK_NCCL(ncclAllReduce(a, b, count, ncclInt32, ncclSum, comm, s));
    RANK_NCCL(ncclSend(a, count, ncclInt32, (rank + 1) % n, comm, s));
    RANK_NCCL(ncclRecv(c, count, ncclInt32, (rank + n - 1) % n, comm, s));
    RANK_NCCL(ncclGroupEnd());
    RANK_CUDA(cudaStreamSynchronize(s));
    std::vector<int32_t> hb(count), hc(count);
    RANK_CUDA(cudaMemcpy(hb.data(), b, count * 4, cudaMemcpyDeviceToHost));
    RANK_CUDA(cudaMemcpy(hc.data(), c, count * 4, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < count; ++i) {
      RANK_CHECK(hb[i] == 100 * n * (n - 1) / 2 + n * static_cast<int32_t>(i), "sum %zu", i);
      RANK_CHECK(hc[i] == ((rank + n - 1) % n) * 100 + static_cast<int32_t>(i), "recv %zu", i);
    }
    RANK_NCCL(ncclCommDestroy(comm));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

TEST(Staged, GraphCaptureIsAClearInvalidUsage) {
  SKIP_WITHOUT_DEVICE();
  auto out = runRanks(1, [](int rank, int n, const ncclUniqueId& id) {
    RANK_CUDA(cudaSetDevice(0));
    ncclComm_t comm;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    int32_t* p;
    RANK_CUDA(cudaMalloc(&p, 1024));
    cudaStream_t s;
    RANK_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    RANK_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
    ncclResult_t r = ncclAllReduce(p, p, 256, ncclInt32, ncclSum, comm, s);
    cudaGraph_t g;
    cudaStreamEndCapture(s, &g);
    RANK_CHECK(r == ncclInvalidUsage, "capture gave %d", static_cast<int>(r));
    RANK_CHECK(std::string(ncclGetLastError(comm)).find("CUDA graph") != std::string::npos,
               "message: %s", ncclGetLastError(comm));
    RANK_NCCL(ncclCommDestroy(comm));
    return 0;
  });
  EXPECT_EQ(describeFailures(out), "");
}

}  // namespace
}  // namespace plexus::testing
