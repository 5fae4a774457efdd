// The device executor of the step interpreter (only with PLEXUS_HAVE_CUDA): a kernel with one
// thread block per channel runs engine/exec/step_interpreter.hpp over windows in device memory,
// the GPU twin of the host MappedExecutor. Peers' windows (same process, or other processes
// through CUDA IPC, which the cuda-ipc transport provides) enter only as device pointers:
// resolve a plan's FIFOs with exec::resolveFifos over the device addresses of the windows, copy
// them with DeviceFifos, and launch.
//
// The kernels of all ranks that exchange messages must be resident at the same time (their blocks
// spin on each other): give every rank its own stream, keep channels x ranks within what the
// GPUs hold at once. Every wait in the kernel ends: on progress, on the abort flag (host-mapped
// memory the host sets), or after control.timeoutCycles; the per-channel ExecStatus says which
// (read it after the stream is synchronised, describe it with exec::describeStatus).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "engine/exec/exec_plan.hpp"
#include "engine/exec/window.hpp"

namespace plexus::engine::cuda {

struct DeviceRunControl;

// Device memory owned RAII (cudaMalloc / cudaFree). Throws Error(kSystem) naming the CUDA error.
class DeviceMemory {
 public:
  DeviceMemory() = default;
  explicit DeviceMemory(size_t bytes, const char* what);
  ~DeviceMemory();
  DeviceMemory(DeviceMemory&& o) noexcept;
  DeviceMemory& operator=(DeviceMemory&& o) noexcept;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  void* get() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// A flat plan's channels and steps in device memory; view() is what the kernel gets.
class DeviceExecPlan {
 public:
  explicit DeviceExecPlan(const exec::FlatPlan& plan);
  exec::ExecPlan view() const { return view_; }
  int nchannels() const { return view_.header.nchannels; }

 private:
  DeviceMemory memory_;
  exec::ExecPlan view_;
};

// A rank's window in device memory: zeroed, with its directory written.
class DeviceWindow {
 public:
  explicit DeviceWindow(const exec::WindowLayout& layout);
  unsigned char* base() const { return static_cast<unsigned char*>(memory_.get()); }
  const exec::WindowLayout& layout() const { return layout_; }

 private:
  exec::WindowLayout layout_;
  DeviceMemory memory_;
};

// A plan's resolved FIFOs copied to device memory.
class DeviceFifos {
 public:
  explicit DeviceFifos(const std::vector<exec::ExecFifo>& fifos);
  exec::ExecFifos view() const {
    return exec::ExecFifos{static_cast<exec::ExecFifo*>(memory_.get()), count_};
  }

 private:
  DeviceMemory memory_;
  int32_t count_ = 0;
};

// Launch settings; `status` must hold plan.nchannels() entries of device memory.
struct DeviceLaunch {
  uint32_t tag = 0;                     // exec::makeExecTag(call sequence, signature)
  const volatile int* abort = nullptr;  // device address of a host-mapped flag (optional)
  exec::ExecStatus* status = nullptr;
  unsigned long long timeoutCycles = 0;  // 0: about 30 s at 2 GHz
  int threadsPerBlock = 256;
};

// Enqueues the plan on `stream` (one block per channel) and returns at once. Throws
// Error(kSystem) naming the launch error.
void launchDevicePlan(const DeviceExecPlan& plan, const exec::ExecBuffers& buffers,
                      const exec::ExecFifos& fifos, const DeviceLaunch& launch,
                      cudaStream_t stream);

// Throws Error(kSystem) "<what>: <cudaGetErrorString>" when rc is not cudaSuccess.
void checkCuda(cudaError_t rc, const char* what);

}  // namespace plexus::engine::cuda
