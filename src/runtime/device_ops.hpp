// The stream operations the staged device path needs, behind an interface: the CUDA implementation
// (cuda_stream_ops.cpp) enqueues them on a cudaStream_t; tests substitute a fake whose "streams"
// are host threads, so the staged proxy runs for real on machines without a GPU.
//
// Every enqueue call returns at once; the operation runs after the work queued before it on the
// same stream, as CUDA stream order says.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace plexus::runtime {

class StreamOps {
 public:
  virtual ~StreamOps() = default;
  // Host memory the device can copy to and from and whose words stream operations can write and
  // wait on (CUDA: cudaHostAlloc(cudaHostAllocMapped | cudaHostAllocPortable)). Throws on failure.
  virtual void* allocPinned(size_t bytes) = 0;
  virtual void freePinned(void* p) noexcept = 0;
  // True while `stream` is being captured into a CUDA graph.
  virtual bool capturing(void* stream) = 0;
  // Enqueue a copy (device to host or host to device).
  virtual void copy(void* stream, void* dst, const void* src, size_t bytes) = 0;
  // Enqueue *flag = value, after the work before it is complete and visible.
  virtual void writeFlag(void* stream, uint64_t* flag, uint64_t value) = 0;
  // Enqueue a wait until *flag >= value (as a wrapping 64-bit comparison).
  virtual void waitFlag(void* stream, uint64_t* flag, uint64_t value) = 0;
  // Work enqueued on `waiter` from now on runs after the work enqueued on `waitee` until now.
  virtual void streamWaitStream(void* waiter, void* waitee) = 0;
};

// The stream operations of this process: the test factory when one is set, otherwise CUDA's.
// Throws Error(kInvalidUsage) with the reason when CUDA is not usable ("built without CUDA",
// "no NVIDIA driver (libcuda.so.1 not found)", "no CUDA device").
std::unique_ptr<StreamOps> makeStreamOps(const std::string& context);

namespace testing {
using StreamOpsFactory = std::unique_ptr<StreamOps> (*)();
// For tests that link the layers statically: replaces CUDA (nullptr restores it).
void setStreamOpsFactory(StreamOpsFactory factory);
}  // namespace testing

}  // namespace plexus::runtime
