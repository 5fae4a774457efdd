// CUDA for the perf tools: device discovery, device memory, streams, events and graphs, as thin
// owning wrappers over the CUDA runtime. Every failure throws std::runtime_error naming the call,
// the device and the CUDA error. Built without CUDA (PLEXUS_HAVE_CUDA unset), probe() says so and
// the tools use host buffers; nothing else here is then reachable (the constructors throw).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "plexus/nccl.h"  // cudaStream_t

struct CUevent_st;
struct CUgraphExec_st;

namespace plexus::perf::cuda {

// How many CUDA devices this process can use; with none, why (no driver, no device, built
// without CUDA), in words fit for the "# Buffers:" line.
struct Availability {
  int count = 0;
  std::string reason;
};
Availability probe();

// What nccl-tests prints after "device N" on a rank line: "[0000:19:00] NVIDIA H100 80GB HBM3".
std::string describe(int device);

void setDevice(int device);

// Bytes of device memory, from cudaMalloc on one device.
class Memory {
 public:
  Memory() = default;
  Memory(size_t bytes, int device);
  unsigned char* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(unsigned char* p) const;
  };
  std::unique_ptr<unsigned char, Free> data_;
  size_t size_ = 0;
};

// A non-blocking stream of one device, or the legacy default stream (nullStream: -y 1).
class Stream {
 public:
  Stream() = default;
  Stream(int device, bool nullStream);
  cudaStream_t get() const { return stream_.get(); }
  void synchronize() const;

 private:
  struct Destroy {
    void operator()(CUstream_st* s) const;
  };
  std::unique_ptr<CUstream_st, Destroy> stream_;
};

class Event {
 public:
  Event() = default;
  explicit Event(int device);
  void record(cudaStream_t stream) const;
  // Milliseconds from start to this event (both recorded and complete).
  double millisecondsSince(const Event& start) const;

 private:
  struct Destroy {
    void operator()(CUevent_st* e) const;
  };
  std::unique_ptr<CUevent_st, Destroy> event_;
};

// Copies on `stream` and waits for them (host memory is pageable: cudaMemcpyAsync of pageable
// memory is synchronous for the host anyway; the wait makes it so for the stream's earlier work).
void copyToDevice(void* device, const void* host, size_t bytes, cudaStream_t stream);
void copyToHost(void* host, const void* device, size_t bytes, cudaStream_t stream);

// Stream capture into a CUDA graph (cudaStreamCaptureModeThreadLocal, as nccl-tests).
void beginCapture(cudaStream_t stream);
// Ends a capture started by beginCapture and instantiates it. With `discard` (the captured calls
// failed) the graph is dropped and no error is raised.
class GraphExec;
GraphExec endCapture(cudaStream_t stream, bool discard);

class GraphExec {
 public:
  GraphExec() = default;
  void launch(cudaStream_t stream) const;
  bool empty() const { return !exec_; }

 private:
  friend GraphExec endCapture(cudaStream_t stream, bool discard);
  struct Destroy {
    void operator()(CUgraphExec_st* g) const;
  };
  std::unique_ptr<CUgraphExec_st, Destroy> exec_;
};

}  // namespace plexus::perf::cuda
