// The choice between the staged path and the device executor for device buffers.
#include "runtime/gpu_executor_choice.hpp"

#include "base/env.hpp"
#include "base/error.hpp"

namespace plexus::runtime {

GpuExecutor gpuExecutorFromEnv() {
  const std::string v = envString("GPU_EXECUTOR", "staged");
  if (v == "staged" || v.empty()) return GpuExecutor::kStaged;
  if (v == "device") return GpuExecutor::kDevice;
  throwError(ErrorCode::kInvalidArgument,
             "PLEXUS_GPU_EXECUTOR=%s: expected staged (the default) or device", v.c_str());
}

GpuExecutorChoice chooseGpuExecutor(GpuExecutor wanted, const GpuExecutorFacts& f) {
  GpuExecutorChoice c;
  if (wanted == GpuExecutor::kStaged) return c;
  if (!f.deviceExecutorBuilt)
    c.fallbackReason = "this build has no CUDA device executor (built without CUDA)";
  else if (!f.cudaUsable)
    c.fallbackReason = "CUDA is not usable in this process";
  else if (!f.allRanksLocal)
    c.fallbackReason =
        "some ranks run on other hosts (the device executor maps peers' windows "
        "through cuda-ipc, same host only)";
  else if (!f.deviceExecutorWired)
    c.fallbackReason =
        "the device executor is not wired to communicators yet (docs/gpu.md, "
        "\"Executors: which one runs a call\")";
  else
    c.executor = GpuExecutor::kDevice;
  return c;
}

}  // namespace plexus::runtime
