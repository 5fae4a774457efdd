// makeStreamOps: the CUDA stream operations, or a test's fake.
#include "runtime/device_ops.hpp"

#include <atomic>

#include "base/cuda_runtime.hpp"
#include "base/error.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace plexus::runtime {
namespace {

std::atomic<testing::StreamOpsFactory> gFactory{nullptr};

#if PLEXUS_HAVE_CUDA
class CudaStreamOps final : public StreamOps {
 public:
  void* allocPinned(size_t bytes) override {
    void* p = nullptr;
    cuda::check(cudaHostAlloc(&p, bytes, cudaHostAllocMapped | cudaHostAllocPortable),
                "cudaHostAlloc (staging memory)");
    return p;
  }
  // cudaFreeHost waits for the device work that may still read it.
  void freePinned(void* p) noexcept override { (void)cudaFreeHost(p); }
  bool capturing(void* stream) override {
    cudaStreamCaptureStatus s = cudaStreamCaptureStatusNone;
    cuda::check(cudaStreamIsCapturing(static_cast<cudaStream_t>(stream), &s),
                "cudaStreamIsCapturing");
    return s != cudaStreamCaptureStatusNone;
  }
  void copy(void* stream, void* dst, const void* src, size_t bytes) override {
    cuda::check(
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream)),
        "cudaMemcpyAsync (staging copy)");
  }
  void writeFlag(void* stream, uint64_t* flag, uint64_t value) override {
    cuda::streamWriteValue64(stream, flag, value);
  }
  void waitFlag(void* stream, uint64_t* flag, uint64_t value) override {
    cuda::streamWaitValue64(stream, flag, value);
  }
  void streamWaitStream(void* waiter, void* waitee) override {
    cudaEvent_t e = nullptr;
    cuda::check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    cudaError_t r = cudaEventRecord(e, static_cast<cudaStream_t>(waitee));
    if (r == cudaSuccess) r = cudaStreamWaitEvent(static_cast<cudaStream_t>(waiter), e, 0);
    (void)cudaEventDestroy(e);  // released once the wait has passed
    cuda::check(r, "cudaEventRecord/cudaStreamWaitEvent (joining the streams of a group)");
  }
};
#endif

}  // namespace

std::unique_ptr<StreamOps> makeStreamOps(const std::string& context) {
  if (auto f = gFactory.load(std::memory_order_acquire)) return f();
#if PLEXUS_HAVE_CUDA
  if (cuda::usable()) return std::make_unique<CudaStreamOps>();
#endif
  throwError(ErrorCode::kInvalidUsage,
             "%s: a buffer is device memory but CUDA is not usable in this process: %s",
             context.c_str(), cuda::unusableReason().c_str());
}

namespace testing {
void setStreamOpsFactory(StreamOpsFactory factory) {
  gFactory.store(factory, std::memory_order_release);
}
}  // namespace testing

}  // namespace plexus::runtime
