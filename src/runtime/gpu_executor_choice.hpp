// PLEXUS_GPU_EXECUTOR=staged|device: which executor runs a communicator's device-buffer
// collectives. `staged` (the default) copies them to pinned host memory on the user's stream and
// runs them on the host engine (runtime/staged_executor.hpp). `device` asks for the device
// executor (engine/cuda/device_executor.hpp: the step interpreter as a CUDA kernel over cuda-ipc
// windows); where it cannot serve the communicator the staged path runs, with one INFO line
// saying why. The choice is a pure function of facts the communicator gathers, so it is
// unit-tested here without a GPU.
#pragma once

#include <string>

namespace plexus::runtime {

enum class GpuExecutor { kStaged, kDevice };

// Reads PLEXUS_GPU_EXECUTOR; throws Error(kInvalidArgument) on another value.
GpuExecutor gpuExecutorFromEnv();

struct GpuExecutorFacts {
  bool allRanksLocal = false;        // every rank of the communicator on this host
  bool deviceExecutorBuilt = false;  // PLEXUS_HAVE_CUDA
  bool cudaUsable = false;
  bool deviceExecutorWired = false;  // communicators can drive it (not yet: see docs/gpu.md)
};

struct GpuExecutorChoice {
  GpuExecutor executor = GpuExecutor::kStaged;
  std::string fallbackReason;  // why the staged path runs although `device` was asked; else ""
};

GpuExecutorChoice chooseGpuExecutor(GpuExecutor wanted, const GpuExecutorFacts& facts);

}  // namespace plexus::runtime
