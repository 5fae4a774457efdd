// The CUDA runtime wrapper: device probe, driver entry points (no link-time libcuda).
#include "base/cuda_runtime.hpp"

#include <atomic>
#include <mutex>

#include "base/error.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#endif

namespace plexus::cuda {
namespace {

struct Probe {
  bool usable = false;
  std::string reason;
#if PLEXUS_HAVE_CUDA
  PFN_cuStreamWriteValue64_v11070 write64 = nullptr;
  PFN_cuStreamWaitValue64_v11070 wait64 = nullptr;
  PFN_cuPointerGetAttribute_v4000 pointerGetAttribute = nullptr;
#endif
};

#if PLEXUS_HAVE_CUDA
template <typename Fn>
void entryPoint(const char* name, unsigned version, Fn* out) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
  cudaError_t e = cudaGetDriverEntryPointByVersion(name, &fn, version, cudaEnableDefault, &q);
  if (e == cudaSuccess && q == cudaDriverEntryPointSuccess) *out = reinterpret_cast<Fn>(fn);
}

void probe(Probe& p) {
  // The static runtime loads libcuda.so.1 itself; asking first gives the precise reason.
  if (void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL)) {
    dlclose(h);
  } else {
    p.reason = "no NVIDIA driver (libcuda.so.1 not found)";
    return;
  }
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0)) {
    p.reason = "no CUDA device";
    return;
  }
  if (e != cudaSuccess) {
    p.reason = formatString("cudaGetDeviceCount failed: %s (%s)", cudaGetErrorName(e),
                            cudaGetErrorString(e));
    return;
  }
  entryPoint("cuStreamWriteValue64", 11070, &p.write64);
  entryPoint("cuStreamWaitValue64", 11070, &p.wait64);
  entryPoint("cuPointerGetAttribute", 4000, &p.pointerGetAttribute);
  p.usable = true;
}
#else
void probe(Probe& p) {
  p.reason = "built without CUDA (configure with -DPLEXUS_CUDA=ON on a machine with the toolkit)";
}
#endif

std::atomic<const Probe*> gProbe{nullptr};

const Probe& get() {
  const Probe* p = gProbe.load(std::memory_order_acquire);
  if (p != nullptr) return *p;
  static std::once_flag once;
  static Probe storage;
  std::call_once(once, [] {
    probe(storage);
    gProbe.store(&storage, std::memory_order_release);
  });
  return storage;
}

}  // namespace

bool usable() {
  return get().usable;
}

const std::string& unusableReason() {
  return get().reason;
}

#if PLEXUS_HAVE_CUDA
void check(int status, const char* what) {
  auto e = static_cast<cudaError_t>(status);
  if (e == cudaSuccess) return;
  throwError(kCudaError, "%s failed: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
}

bool pointerRange(const void* p, uintptr_t* start, size_t* size) {
  const Probe& pr = get();
  if (!pr.usable || pr.pointerGetAttribute == nullptr) return false;
  auto ptr = reinterpret_cast<CUdeviceptr>(p);
  CUdeviceptr base = 0;
  size_t bytes = 0;
  if (pr.pointerGetAttribute(&base, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, ptr) != CUDA_SUCCESS ||
      pr.pointerGetAttribute(&bytes, CU_POINTER_ATTRIBUTE_RANGE_SIZE, ptr) != CUDA_SUCCESS)
    return false;
  *start = static_cast<uintptr_t>(base);
  *size = bytes;
  return true;
}

namespace {
CUdeviceptr mappedAddress(uint64_t* flag) {
  void* device = nullptr;
  check(cudaHostGetDevicePointer(&device, flag, 0), "cudaHostGetDevicePointer (staging flag)");
  return reinterpret_cast<CUdeviceptr>(device);
}
void checkDriver(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS)
    throwError(kCudaError,
               "%s failed with CUresult %d (stream memory operations must be supported by the "
               "device and driver)",
               what, static_cast<int>(r));
}
}  // namespace

void streamWriteValue64(void* stream, uint64_t* flag, uint64_t value) {
  const Probe& pr = get();
  if (pr.write64 == nullptr)
    throwError(kCudaError, "cuStreamWriteValue64 is not available from this driver");
  checkDriver(pr.write64(static_cast<CUstream>(stream), mappedAddress(flag), value,
                         CU_STREAM_WRITE_VALUE_DEFAULT),
              "cuStreamWriteValue64");
}

void streamWaitValue64(void* stream, uint64_t* flag, uint64_t value) {
  const Probe& pr = get();
  if (pr.wait64 == nullptr)
    throwError(kCudaError, "cuStreamWaitValue64 is not available from this driver");
  checkDriver(pr.wait64(static_cast<CUstream>(stream), mappedAddress(flag), value,
                        CU_STREAM_WAIT_VALUE_GEQ),
              "cuStreamWaitValue64");
}
#else
void check(int status, const char* what) {
  if (status != 0) throwError(kCudaError, "%s failed: %s", what, unusableReason().c_str());
}
bool pointerRange(const void*, uintptr_t*, size_t*) {
  return false;
}
void streamWriteValue64(void*, uint64_t*, uint64_t) {
  throwError(kCudaError, "cuStreamWriteValue64: %s", unusableReason().c_str());
}
void streamWaitValue64(void*, uint64_t*, uint64_t) {
  throwError(kCudaError, "cuStreamWaitValue64: %s", unusableReason().c_str());
}
#endif

}  // namespace plexus::cuda
