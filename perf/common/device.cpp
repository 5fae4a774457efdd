// The perf tools' CUDA wrappers (see device.hpp). Without CUDA only probe() does something.
#include "common/device.hpp"

#include <cstdio>
#include <stdexcept>

#if PLEXUS_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace plexus::perf::cuda {

#if PLEXUS_HAVE_CUDA
namespace {

void check(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return;
  throw std::runtime_error(what + " failed: " + cudaGetErrorName(err) + " (" +
                           cudaGetErrorString(err) + ")");
}

std::string onDevice(const char* call, int device) {
  return std::string(call) + " on CUDA device " + std::to_string(device);
}

}  // namespace

Availability probe() {
  Availability a;
  cudaError_t err = cudaGetDeviceCount(&a.count);
  if (err != cudaSuccess) {
    a.count = 0;
    a.reason = std::string("no usable CUDA device (cudaGetDeviceCount: ") + cudaGetErrorName(err) +
               ", " + cudaGetErrorString(err) + ")";
    cudaGetLastError();  // clear the sticky error of the failed probe
  } else if (a.count == 0) {
    a.reason = "no CUDA device (cudaGetDeviceCount returned 0)";
  }
  return a;
}

std::string describe(int device) {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), onDevice("cudaGetDeviceProperties", device));
  char text[320];
  std::snprintf(text, sizeof(text), "[%04x:%02x:%02x] %s", prop.pciDomainID, prop.pciBusID,
                prop.pciDeviceID, prop.name);
  return text;
}

void setDevice(int device) {
  check(cudaSetDevice(device), onDevice("cudaSetDevice", device));
}

Memory::Memory(size_t bytes, int device) : size_(bytes) {
  setDevice(device);
  void* p = nullptr;
  check(cudaMalloc(&p, bytes == 0 ? 1 : bytes),
        onDevice("cudaMalloc", device) + " of " + std::to_string(bytes) +
            " bytes (lower -e, or use host buffers with --host)");
  data_.reset(static_cast<unsigned char*>(p));
  // Zero once, so that the first timed call does not meet fresh pages.
  check(cudaMemset(p, 0, bytes), onDevice("cudaMemset", device));
  check(cudaDeviceSynchronize(), onDevice("cudaDeviceSynchronize", device));
}

void Memory::Free::operator()(unsigned char* p) const {
  cudaFree(p);
}

Stream::Stream(int device, bool nullStream) {
  if (nullStream) return;  // the legacy default stream is the null handle
  setDevice(device);
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking),
        onDevice("cudaStreamCreateWithFlags", device));
  stream_.reset(s);
}

void Stream::synchronize() const {
  check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
}

void Stream::Destroy::operator()(CUstream_st* s) const {
  cudaStreamDestroy(s);
}

Event::Event(int device) {
  setDevice(device);
  cudaEvent_t e = nullptr;
  check(cudaEventCreate(&e), onDevice("cudaEventCreate", device));
  event_.reset(e);
}

void Event::record(cudaStream_t stream) const {
  check(cudaEventRecord(event_.get(), stream), "cudaEventRecord");
}

double Event::millisecondsSince(const Event& start) const {
  check(cudaEventSynchronize(event_.get()), "cudaEventSynchronize");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start.event_.get(), event_.get()), "cudaEventElapsedTime");
  return ms;
}

void Event::Destroy::operator()(CUevent_st* e) const {
  cudaEventDestroy(e);
}

void copyToDevice(void* device, const void* host, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync (host to device, " + std::to_string(bytes) + " bytes)");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (after a copy to the device)");
}

void copyToHost(void* host, const void* device, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync (device to host, " + std::to_string(bytes) + " bytes)");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (after a copy to the host)");
}

void beginCapture(cudaStream_t stream) {
  check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal),
        stream == nullptr ? "cudaStreamBeginCapture on the legacy default stream (-y 1 cannot be "
                            "combined with -G)"
                          : "cudaStreamBeginCapture");
}

GraphExec endCapture(cudaStream_t stream, bool discard) {
  cudaGraph_t graph = nullptr;
  cudaError_t err = cudaStreamEndCapture(stream, &graph);
  GraphExec out;
  if (discard) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    cudaGetLastError();
    return out;
  }
  check(err, "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  check(err, "cudaGraphInstantiate");
  out.exec_.reset(exec);
  return out;
}

void GraphExec::launch(cudaStream_t stream) const {
  check(cudaGraphLaunch(exec_.get(), stream), "cudaGraphLaunch");
}

void GraphExec::Destroy::operator()(CUgraphExec_st* g) const {
  cudaGraphExecDestroy(g);
}

#else  // built without CUDA

namespace {
[[noreturn]] void noCuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": this build has no CUDA (PLEXUS_CUDA=OFF)");
}
}  // namespace

Availability probe() {
  return {0, "built without CUDA (PLEXUS_CUDA=OFF or no CUDA toolkit at configure time)"};
}
std::string describe(int) {
  noCuda("describe");
}
void setDevice(int) {
  noCuda("cudaSetDevice");
}
Memory::Memory(size_t, int) {
  noCuda("cudaMalloc");
}
void Memory::Free::operator()(unsigned char*) const {}
Stream::Stream(int, bool) {
  noCuda("cudaStreamCreate");
}
void Stream::synchronize() const {}
void Stream::Destroy::operator()(CUstream_st*) const {}
Event::Event(int) {
  noCuda("cudaEventCreate");
}
void Event::record(cudaStream_t) const {
  noCuda("cudaEventRecord");
}
double Event::millisecondsSince(const Event&) const {
  noCuda("cudaEventElapsedTime");
}
void Event::Destroy::operator()(CUevent_st*) const {}
void copyToDevice(void*, const void*, size_t, cudaStream_t) {
  noCuda("cudaMemcpy");
}
void copyToHost(void*, const void*, size_t, cudaStream_t) {
  noCuda("cudaMemcpy");
}
void beginCapture(cudaStream_t) {
  noCuda("cudaStreamBeginCapture");
}
GraphExec endCapture(cudaStream_t, bool) {
  noCuda("cudaStreamEndCapture");
}
void GraphExec::launch(cudaStream_t) const {
  noCuda("cudaGraphLaunch");
}
void GraphExec::Destroy::operator()(CUgraphExec_st*) const {}

#endif

}  // namespace plexus::perf::cuda
