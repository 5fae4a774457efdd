// Fakes that let the staged device path run for real without a GPU: "device memory" is host memory
// the fake pointer query calls device memory, and a "stream" is a host thread that runs the
// enqueued copies, flag writes and flag waits in order, as a CUDA stream would.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "plexus/nccl.h"

namespace plexus::testing {

// Host memory that classify() reports as device memory once installFakeDevice() ran.
void* fakeDeviceAlloc(size_t bytes);
void fakeDeviceFree(void* p);  // keeps the memory (see fake_device.cpp)
// Sets the fake pointer query and the fake stream operations for this process.
void installFakeDevice();
// Sets the fake pointer query only: device buffers, but no way to run them (as without CUDA).
void installFakeClassifierOnly();
// Stream operations seen by the fakes so far (flag writes = staging rounds on the streams).
uint64_t fakeFlagWrites();

class FakeStream {
 public:
  FakeStream();
  ~FakeStream();  // runs what is queued, then stops
  FakeStream(const FakeStream&) = delete;
  FakeStream& operator=(const FakeStream&) = delete;

  cudaStream_t handle() { return reinterpret_cast<cudaStream_t>(this); }
  static FakeStream* of(void* handle) { return static_cast<FakeStream*>(handle); }

  // A "kernel": runs on the stream thread in stream order.
  void enqueue(std::function<void()> fn);
  // Waits until everything enqueued so far ran; false after `seconds`.
  bool synchronize(double seconds = 60);
  // Holds the stream before the next enqueued work until open() (like a long kernel).
  void closeGate();
  void openGate();
  bool capturing = false;

 private:
  void run();
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  uint64_t queued_ = 0, done_ = 0;
  bool stop_ = false;
  std::shared_ptr<std::atomic<bool>> gate_;  // placed before the next enqueued work
  std::vector<std::shared_ptr<std::atomic<bool>>> openers_;
  std::thread thread_;
};

}  // namespace plexus::testing
