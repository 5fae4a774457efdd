// The device executor on one GPU: 2 and 3 "ranks" in this process, each with its window in device
// memory and its kernel (one block per channel) on its own stream, run real plans (all-reduce
// ring, all-gather, reduce-scatter) twice (FIFO counters persist across calls) and must match the
// host-computed reference exactly. Skipped, saying so, where there is no CUDA device.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "engine/cuda/device_executor.hpp"
#include "engine/exec/window.hpp"
#include "kernels/datatype.hpp"
#include "tests/exec/exec_cases.hpp"

namespace plexus::exectest {
namespace {

using namespace engine;
using engine::cuda::checkCuda;
using engine::cuda::DeviceMemory;

std::string noDeviceReason() {
  int n = 0;
  const cudaError_t rc = cudaGetDeviceCount(&n);
  if (rc != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(rc);
  if (n == 0) return "no CUDA device";
  return "";
}

// One rank's device state.
struct DeviceRank {
  PreparedCase pc;
  std::unique_ptr<cuda::DeviceWindow> window;
  std::unique_ptr<cuda::DeviceExecPlan> plan;
  std::unique_ptr<cuda::DeviceFifos> fifos;
  DeviceMemory input, output, scratch, status;
  cudaStream_t stream = nullptr;
};

void setUp(std::vector<DeviceRank>& ranks, const ExecCase& c, int n) {
  for (int r = 0; r < n; ++r) {
    DeviceRank& d = ranks[static_cast<size_t>(r)];
    d.pc = prepareCases({c}, r, n).at(0);
    const size_t esz = dataTypeSize(c.type);
    d.window = std::make_unique<cuda::DeviceWindow>(
        exec::WindowLayout::build(r, d.pc.flat.fifos, kSlots, kSlotBytes));
    d.plan = std::make_unique<cuda::DeviceExecPlan>(d.pc.flat);
    d.input = DeviceMemory(d.pc.inputCount * esz + 16, "input");
    d.output = DeviceMemory(d.pc.outputCount * esz + 16, "output");
    d.scratch = DeviceMemory(d.pc.scratchCount * esz + 16, "scratch");
    d.status =
        DeviceMemory(sizeof(exec::ExecStatus) * static_cast<size_t>(d.plan->nchannels()), "status");
    checkCuda(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  std::vector<const exec::WindowLayout*> layouts;
  std::vector<unsigned char*> bases;
  for (const DeviceRank& d : ranks) {
    layouts.push_back(&d.window->layout());
    bases.push_back(d.window->base());
  }
  for (DeviceRank& d : ranks) {
    d.fifos = std::make_unique<cuda::DeviceFifos>(
        exec::resolveFifos(d.pc.flat, d.window->layout(), d.window->base(), layouts, bases));
  }
}

// Runs every rank's plan once (call number `call`) and checks outputs and statuses.
void runOnce(std::vector<DeviceRank>& ranks, int n, uint32_t call, const int* abortFlag) {
  for (int r = 0; r < n; ++r) {
    DeviceRank& d = ranks[static_cast<size_t>(r)];
    std::vector<unsigned char> in(d.input.size());
    fillInput(d.pc, r, n, call, in.data());
    checkCuda(cudaMemcpy(d.input.get(), in.data(), in.size(), cudaMemcpyHostToDevice), "input");
    cuda::DeviceLaunch launch;
    launch.tag = exec::makeExecTag(call, d.pc.flat.header.signature);
    launch.abort = abortFlag;
    launch.status = static_cast<exec::ExecStatus*>(d.status.get());
    launch.timeoutCycles = 10ull * 1000 * 1000 * 1000;
    cuda::launchDevicePlan(*d.plan, {d.input.get(), d.output.get(), d.scratch.get()},
                           d.fifos->view(), launch, d.stream);
  }
  for (int r = 0; r < n; ++r) {
    DeviceRank& d = ranks[static_cast<size_t>(r)];
    checkCuda(cudaStreamSynchronize(d.stream), "cudaStreamSynchronize");
    std::vector<exec::ExecStatus> st(static_cast<size_t>(d.plan->nchannels()));
    checkCuda(
        cudaMemcpy(st.data(), d.status.get(), st.size() * sizeof(st[0]), cudaMemcpyDeviceToHost),
        "status");
    for (const exec::ExecStatus& s : st)
      EXPECT_EQ(s.code, exec::kExecOk) << exec::describeStatus(d.pc.flat, s);
    std::vector<unsigned char> out(d.output.size());
    checkCuda(cudaMemcpy(out.data(), d.output.get(), out.size(), cudaMemcpyDeviceToHost), "output");
    EXPECT_EQ(checkOutput(d.pc, r, n, call, out.data()), "");
  }
}

using DeviceParam = std::tuple<int, int>;  // ranks, case index

ExecCase deviceCase(int index) {
  using algo::Collective;
  switch (index) {
    case 0:
      return ExecCase{
          Collective::kAllReduce, "ring", DataType::kFloat32, RedOp::kAvg, 5001, false, 2, 0};
    case 1:
      return ExecCase{
          Collective::kAllReduce, "ring", DataType::kBfloat16, RedOp::kSum, 777, false, 1, 0};
    case 2:
      return ExecCase{
          Collective::kAllGather, "ring", DataType::kInt8, RedOp::kSum, 3001, false, 2, 0};
    default:
      return ExecCase{
          Collective::kReduceScatter, "ring", DataType::kInt64, RedOp::kMax, 1001, false, 2, 0};
  }
}

class DeviceExec : public ::testing::TestWithParam<DeviceParam> {};

TEST_P(DeviceExec, RealPlansExact) {
  const std::string why = noDeviceReason();
  if (!why.empty()) GTEST_SKIP() << why;
  const auto [n, index] = GetParam();
  std::vector<DeviceRank> ranks(static_cast<size_t>(n));
  setUp(ranks, deviceCase(index), n);
  int* hostAbort = nullptr;
  checkCuda(cudaHostAlloc(reinterpret_cast<void**>(&hostAbort), sizeof(int), cudaHostAllocMapped),
            "cudaHostAlloc");
  *hostAbort = 0;
  int* devAbort = nullptr;
  checkCuda(cudaHostGetDevicePointer(reinterpret_cast<void**>(&devAbort), hostAbort, 0),
            "cudaHostGetDevicePointer");
  for (uint32_t call = 1; call <= 2; ++call) runOnce(ranks, n, call, devAbort);
  for (DeviceRank& d : ranks) cudaStreamDestroy(d.stream);
  cudaFreeHost(hostAbort);
}

std::string deviceCaseName(const ::testing::TestParamInfo<DeviceParam>& info) {
  static const char* const kNames[] = {"allreduce_f32_avg", "allreduce_bf16_sum", "allgather_i8",
                                       "reducescatter_i64_max"};
  return std::string(kNames[std::get<1>(info.param)]) + "_" +
         std::to_string(std::get<0>(info.param)) + "ranks";
}

INSTANTIATE_TEST_SUITE_P(Ranks, DeviceExec,
                         ::testing::Combine(::testing::Values(2, 3), ::testing::Values(0, 1, 2, 3)),
                         deviceCaseName);

}  // namespace
}  // namespace plexus::exectest
