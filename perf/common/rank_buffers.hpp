// One rank's send and receive buffers for the perf driver: host memory, or device memory on one
// CUDA device (with the rank's stream and a pair of timing events) plus a host mirror of the same
// size. The driver always writes inputs into and checks results in host memory (hostSend/hostRecv);
// on the device the mirror is copied to the device before a checked call and back after it, so
// the host checking code is the same for both kinds. The API gets argSend/argRecv.
#pragma once

#include <cstddef>

#include "common/device.hpp"
#include "common/host_buffer.hpp"

namespace plexus::perf {

class RankBuffers {
 public:
  RankBuffers() = default;
  // `fromNccl`: the host buffers come from ncclMemAlloc (-R 1 or 2).
  static RankBuffers onHost(size_t bytes, bool fromNccl = false);
  // Throws std::runtime_error naming the device when CUDA fails (allocation included).
  static RankBuffers onDevice(size_t bytes, int device, bool nullStream);

  bool isDevice() const { return device_ >= 0; }
  int device() const { return device_; }
  size_t size() const { return hostSend_.size(); }
  unsigned char* hostSend() const { return hostSend_.data(); }
  unsigned char* hostRecv() const { return hostRecv_.data(); }
  unsigned char* argSend() const { return isDevice() ? devSend_.data() : hostSend_.data(); }
  unsigned char* argRecv() const { return isDevice() ? devRecv_.data() : hostRecv_.data(); }
  // The rank's stream (nullptr on host buffers, and for -y 1).
  cudaStream_t stream() const { return stream_.get(); }

  // Device buffers only (no-ops on host buffers): make this rank's device current; copy the first
  // bytes of the host mirrors to the device or back (waiting for the rank's stream first); wait
  // for the stream; the event timer around work on the stream.
  void activate() const;
  void upload(size_t sendBytes, size_t recvBytes) const;
  void download(size_t sendBytes, size_t recvBytes) const;
  void synchronize() const;
  void startTimer() const;
  void stopTimer() const;
  double timerSeconds() const;

 private:
  int device_ = -1;
  HostBuffer hostSend_;
  HostBuffer hostRecv_;
  cuda::Memory devSend_;
  cuda::Memory devRecv_;
  cuda::Stream stream_;
  cuda::Event start_;
  cuda::Event stop_;
};

}  // namespace plexus::perf
