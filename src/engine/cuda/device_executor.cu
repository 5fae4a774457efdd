// The device executor: the step-interpreter kernel (one block per channel) and the device memory
// it runs over.
#include "engine/cuda/device_executor.hpp"

#include <cstring>
#include <utility>

#include "base/error.hpp"
#include "engine/cuda/device_platform.cuh"
#include "engine/exec/step_interpreter.hpp"

namespace plexus::engine::cuda {
namespace {

__global__ void stepInterpreterKernel(exec::ExecPlan plan, exec::ExecBuffers buffers,
                                      exec::ExecFifos fifos, DeviceRunControl control) {
  __shared__ uint32_t word;
  plan.header.tag = control.tag;
  DevicePlatform platform(control, &word);
  const exec::ExecStatus st =
      exec::runChannel(platform, plan, static_cast<int>(blockIdx.x), buffers, fifos);
  if (threadIdx.x == 0 && control.status != nullptr) control.status[blockIdx.x] = st;
}

}  // namespace

void checkCuda(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) {
    throwError(ErrorCode::kSystem, "%s failed: %s (%s); check that a CUDA device is present", what,
               cudaGetErrorString(rc), cudaGetErrorName(rc));
  }
}

DeviceMemory::DeviceMemory(size_t bytes, const char* what) : bytes_(bytes) {
  if (bytes == 0) return;
  checkCuda(cudaMalloc(&ptr_, bytes), what);
}

DeviceMemory::~DeviceMemory() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

DeviceMemory::DeviceMemory(DeviceMemory&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& o) noexcept {
  if (this != &o) {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

DeviceExecPlan::DeviceExecPlan(const exec::FlatPlan& plan) {
  const size_t channelBytes = plan.channels.size() * sizeof(exec::ExecChannel);
  const size_t stepAt = (channelBytes + 15) / 16 * 16;
  const size_t stepBytes = plan.steps.size() * sizeof(exec::ExecStep);
  std::vector<unsigned char> image(stepAt + stepBytes);
  if (channelBytes != 0) std::memcpy(image.data(), plan.channels.data(), channelBytes);
  if (stepBytes != 0) std::memcpy(image.data() + stepAt, plan.steps.data(), stepBytes);
  memory_ = DeviceMemory(image.size(), "cudaMalloc of a device plan");
  if (!image.empty())
    checkCuda(cudaMemcpy(memory_.get(), image.data(), image.size(), cudaMemcpyHostToDevice),
              "cudaMemcpy of a device plan");
  auto* base = static_cast<unsigned char*>(memory_.get());
  view_.header = plan.header;
  view_.channels = reinterpret_cast<const exec::ExecChannel*>(base);
  view_.steps = reinterpret_cast<const exec::ExecStep*>(base + stepAt);
}

DeviceWindow::DeviceWindow(const exec::WindowLayout& layout)
    : layout_(layout), memory_(layout.size(), "cudaMalloc of a step-interpreter window") {
  checkCuda(cudaMemset(memory_.get(), 0, layout.size()), "cudaMemset of a window");
  const std::vector<unsigned char> image = layout.image(0);
  checkCuda(cudaMemcpy(memory_.get(), image.data(), image.size(), cudaMemcpyHostToDevice),
            "cudaMemcpy of a window directory");
}

DeviceFifos::DeviceFifos(const std::vector<exec::ExecFifo>& fifos)
    : memory_(fifos.size() * sizeof(exec::ExecFifo), "cudaMalloc of FIFO pointers"),
      count_(static_cast<int32_t>(fifos.size())) {
  if (!fifos.empty())
    checkCuda(cudaMemcpy(memory_.get(), fifos.data(), memory_.size(), cudaMemcpyHostToDevice),
              "cudaMemcpy of FIFO pointers");
}

void launchDevicePlan(const DeviceExecPlan& plan, const exec::ExecBuffers& buffers,
                      const exec::ExecFifos& fifos, const DeviceLaunch& launch,
                      cudaStream_t stream) {
  if (plan.nchannels() == 0) return;
  DeviceRunControl control;
  control.tag = launch.tag;
  control.abort = launch.abort;
  control.status = launch.status;
  control.timeoutCycles =
      launch.timeoutCycles != 0 ? launch.timeoutCycles : 60ull * 1000 * 1000 * 1000;
  stepInterpreterKernel<<<static_cast<unsigned>(plan.nchannels()),
                          static_cast<unsigned>(launch.threadsPerBlock), 0, stream>>>(
      plan.view(), buffers, fifos, control);
  checkCuda(cudaGetLastError(), "launch of the step-interpreter kernel");
}

}  // namespace plexus::engine::cuda
