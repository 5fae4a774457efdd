// The step interpreter's platform on the host: one thread runs a channel; counters are atomics
// (std::atomic_ref) in memory shared between processes; data moves with memcpy and the host
// reduction kernels. A wait spins briefly, yields a few times, then sleeps on a process-shared
// futex on the counter's low 32 bits, which the writer rings when the counter's sleeper count
// (the 32-bit word 8 bytes after the counter, on its own cache line) says someone sleeps. Each
// wait gives up after `timeout` without the counter moving, when an abort flag is set, or when
// the FIFO's peer process is gone.
#pragma once

#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "base/futex.hpp"
#include "engine/exec/exec_plan.hpp"
#include "kernels/reduce.hpp"

namespace plexus::engine::exec {

// True when process `pid` of this host has exited; a zombie counts (it is dead, only not yet
// reaped by its parent, and kill(pid, 0) still succeeds on it).
inline bool hostProcessGone(int pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return errno == ENOENT;
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  // "pid (comm) S ...": the state follows the last ')' (comm may hold spaces and parentheses).
  const char* close = std::strrchr(buf, ')');
  if (n == 0 || close == nullptr || close[1] == '\0') return false;
  return close[2] == 'Z' || close[2] == 'X';
}

static_assert(std::endian::native == std::endian::little,
              "the futex word is the low half of a 64-bit counter");

struct HostWaitConfig {
  std::chrono::nanoseconds timeout = std::chrono::seconds(1800);
  int spins = 1000;                          // polls before yielding
  int yields = 0;                            // yields before sleeping (a busy core gives a
                                             // yielder whole time slices: off)
  std::chrono::milliseconds slice{20};       // longest single sleep (checks in between)
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
    for (int i = 0; i < config_.spins; ++i) {
      if (c.load(std::memory_order_acquire) >= target) return kExecOk;
      cpuRelax();
    }
    for (int i = 0; i < config_.yields; ++i) {
      if (c.load(std::memory_order_acquire) >= target) return kExecOk;
      sched_yield();
    }
    std::atomic_ref<uint32_t> sleepers(sleepersOf(counter));
    sleepers.fetch_add(1);
    const uint32_t rc = sleepUntil(fifo, counter, target);
    sleepers.fetch_sub(1);
    return rc;
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
    ring(posted, value);
  }

  void release(uint64_t* consumed, uint64_t* own, uint64_t value) const {
    std::atomic_ref<uint64_t>(*own).store(value, std::memory_order_relaxed);
    ring(consumed, value);
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
  static uint32_t& sleepersOf(const uint64_t* counter) {
    return *reinterpret_cast<uint32_t*>(const_cast<uint64_t*>(counter) + 1);
  }
  static std::atomic<uint32_t>* futexWord(const uint64_t* counter) {
    return reinterpret_cast<std::atomic<uint32_t>*>(const_cast<uint64_t*>(counter));
  }

  // Stores the counter, then wakes its sleepers if any (both sequentially consistent, so a
  // sleeper that registered before this store is woken, and one after it sees the value).
  static void ring(uint64_t* counter, uint64_t value) {
    std::atomic_ref<uint64_t>(*counter).store(value, std::memory_order_seq_cst);
    if (std::atomic_ref<uint32_t>(sleepersOf(counter)).load(std::memory_order_seq_cst) != 0)
      futexWakeAll(futexWord(counter), true);
  }

  uint32_t sleepUntil(int32_t fifo, const uint64_t* counter, uint64_t target) const {
    std::atomic_ref<uint64_t> c(*const_cast<uint64_t*>(counter));
    const auto start = std::chrono::steady_clock::now();
    auto nextCheck = start + config_.liveCheck;
    for (;;) {
      const uint64_t v = c.load(std::memory_order_seq_cst);
      if (v >= target) return kExecOk;
      if (stopped()) return kExecAborted;
      const auto now = std::chrono::steady_clock::now();
      if (now >= start + config_.timeout) return kExecTimeout;
      if (now >= nextCheck) {
        nextCheck = now + config_.liveCheck;
        // Gone: the counter may still have moved just before the peer ended.
        if (peerGone(fifo))
          return c.load(std::memory_order_acquire) >= target ? kExecOk : kExecPeerGone;
      }
      const auto left =
          std::min<std::chrono::nanoseconds>(start + config_.timeout - now, config_.slice);
      // Returns at once if the low half moved since `v` was read (little endian).
      futexWait(futexWord(counter), static_cast<uint32_t>(v), left, true);
    }
  }

  bool peerGone(int32_t fifo) const {
    if (config_.fifoPids == nullptr || fifo < 0 || config_.fifoPids[fifo] <= 0) return false;
    return hostProcessGone(config_.fifoPids[fifo]);
  }
  bool stopped() const {
    return (config_.abort != nullptr && config_.abort->load(std::memory_order_relaxed)) ||
           (config_.stop != nullptr && config_.stop->load(std::memory_order_relaxed));
  }
  HostWaitConfig config_;
};

}  // namespace plexus::engine::exec
