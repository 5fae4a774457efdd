// The step interpreter's platform on the host: one thread runs a channel; counters are atomics
// (std::atomic_ref) in memory shared between processes; data moves with memcpy and the host
// reduction kernels. Waits spin briefly, then yield, then sleep a little longer each time; each
// wait gives up after `timeout` without the counter moving, or when an abort flag is set.
#pragma once

#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "engine/exec/exec_plan.hpp"
#include "kernels/reduce.hpp"

namespace plexus::engine::exec {

struct HostWaitConfig {
  std::chrono::nanoseconds timeout = std::chrono::seconds(1800);
  int spins = 2000;                          // polls before yielding
  int yields = 200;                          // yields before sleeping
  std::chrono::microseconds maxSleep{200};   // longest sleep between polls
  const std::atomic<bool>* abort = nullptr;  // the caller's abort flag (optional)
  const std::atomic<bool>* stop = nullptr;   // set when another channel failed
  // Process id of each FIFO's peer (indexed like the plan's FIFOs; null: not checked). A wait
  // that sleeps checks every `liveCheck` whether the peer's process still exists.
  const int* fifoPids = nullptr;
  std::chrono::milliseconds liveCheck{100};
};

class HostPlatform {
 public:
  explicit HostPlatform(const HostWaitConfig& config) : config_(config) {}

  uint32_t wait(int32_t fifo, const uint64_t* counter, uint64_t target) const {
    std::atomic_ref<uint64_t> c(*const_cast<uint64_t*>(counter));
    for (int i = 0; i < config_.spins; ++i)
      if (c.load(std::memory_order_acquire) >= target) return kExecOk;
    const auto start = std::chrono::steady_clock::now();
    auto nextCheck = start + config_.liveCheck;
    std::chrono::microseconds sleep{1};
    for (int round = 0;; ++round) {
      if (c.load(std::memory_order_acquire) >= target) return kExecOk;
      if (stopped()) return kExecAborted;
      const auto now = std::chrono::steady_clock::now();
      if (now >= start + config_.timeout) return kExecTimeout;
      if (now >= nextCheck) {
        nextCheck = now + config_.liveCheck;
        // Gone: the counter may still have moved just before the peer ended.
        if (peerGone(fifo))
          return c.load(std::memory_order_acquire) >= target ? kExecOk : kExecPeerGone;
      }
      if (round < config_.yields) {
        sched_yield();
      } else {
        std::this_thread::sleep_for(sleep);
        sleep = std::min(sleep * 2, config_.maxSleep);
      }
    }
  }

  uint64_t mine(const uint64_t* own) const {
    return std::atomic_ref<uint64_t>(*const_cast<uint64_t*>(own)).load(std::memory_order_relaxed);
  }

  SlotHeader header(const unsigned char* slot) const {
    SlotHeader h;
    std::memcpy(&h, slot, sizeof(h));
    return h;
  }

  void dataDone() const {}
  void blockSync() const {}

  void publish(unsigned char* slot, uint32_t bytes, uint32_t tag, uint64_t* posted, uint64_t* own,
               uint64_t value) const {
    SlotHeader h{bytes, tag, 0};
    std::memcpy(slot, &h, sizeof(h));
    std::atomic_ref<uint64_t>(*own).store(value, std::memory_order_relaxed);
    std::atomic_ref<uint64_t>(*posted).store(value, std::memory_order_release);
  }

  void release(uint64_t* consumed, uint64_t* own, uint64_t value) const {
    std::atomic_ref<uint64_t>(*own).store(value, std::memory_order_relaxed);
    std::atomic_ref<uint64_t>(*consumed).store(value, std::memory_order_release);
  }

  void reduce(uint8_t type, uint8_t op, void* dst, const void* a, const void* b, uint64_t n,
              int divisor) const {
    reduceBuffers(static_cast<DataType>(type), static_cast<RedOp>(op), dst, a, b, n);
    if (divisor > 0) finalizeAverage(static_cast<DataType>(type), dst, dst, n, divisor);
  }
  void divide(uint8_t type, void* dst, const void* src, uint64_t n, int divisor) const {
    finalizeAverage(static_cast<DataType>(type), dst, src, n, divisor);
  }
  void copy(void* dst, const void* src, uint64_t bytes) const { std::memmove(dst, src, bytes); }

 private:
  bool peerGone(int32_t fifo) const {
    if (config_.fifoPids == nullptr || fifo < 0 || config_.fifoPids[fifo] <= 0) return false;
    return kill(config_.fifoPids[fifo], 0) != 0 && errno == ESRCH;
  }
  bool stopped() const {
    return (config_.abort != nullptr && config_.abort->load(std::memory_order_relaxed)) ||
           (config_.stop != nullptr && config_.stop->load(std::memory_order_relaxed));
  }
  HostWaitConfig config_;
};

}  // namespace plexus::engine::exec
