// The step interpreter's platform on the GPU: one thread block runs a channel. Thread 0 polls the
// FIFO counters (acquire loads at system scope, so peers in other processes and the host see the
// same order) with a clock64() deadline and an abort flag in host-mapped memory, and posts them
// (release stores after a system-scope fence by every thread); the block meets at __syncthreads.
// Data moves through the block-cooperative device reductions (kernels/cuda/reduce_device.cuh).
#pragma once

#include <cstdint>

#include "engine/exec/exec_plan.hpp"
#include "kernels/cuda/reduce_device.cuh"

namespace plexus::engine::cuda {

// What every block of one launch shares.
struct DeviceRunControl {
  uint32_t tag = 0;                      // the call's message tag (ExecHeader::tag)
  const volatile int* abort = nullptr;   // host-mapped; nonzero stops every wait (optional)
  exec::ExecStatus* status = nullptr;    // device memory, one per channel
  unsigned long long timeoutCycles = 0;  // a wait that sees no progress this long fails
};

__device__ inline uint64_t loadAcquireSystem(const uint64_t* p) {
  uint64_t v;
  asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}

__device__ inline void storeReleaseSystem(uint64_t* p, uint64_t v) {
  asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

class DevicePlatform {
 public:
  __device__ DevicePlatform(const DeviceRunControl& control, uint32_t* sharedWord)
      : control_(control), word_(sharedWord) {}

  __device__ uint32_t wait(int32_t /*fifo*/, const uint64_t* counter, uint64_t target) {
    if (threadIdx.x == 0) {
      uint32_t rc = exec::kExecOk;
      const long long start = clock64();
      while (loadAcquireSystem(counter) < target) {
        if (control_.abort != nullptr && *control_.abort != 0) {
          rc = exec::kExecAborted;
          break;
        }
        if (static_cast<unsigned long long>(clock64() - start) > control_.timeoutCycles) {
          rc = exec::kExecTimeout;
          break;
        }
        __nanosleep(64);
      }
      *word_ = rc;
    }
    __syncthreads();
    const uint32_t rc = *word_;
    __syncthreads();
    return rc;
  }

  __device__ uint64_t mine(const uint64_t* own) const {
    return *static_cast<const volatile uint64_t*>(own);
  }

  __device__ exec::SlotHeader header(const unsigned char* slot) const {
    const volatile uint32_t* w = reinterpret_cast<const volatile uint32_t*>(slot);
    return exec::SlotHeader{w[0], w[1], 0};
  }

  // Every thread's writes of the piece reach system scope before thread 0 posts.
  __device__ void dataDone() const {
    __threadfence_system();
    __syncthreads();
  }
  __device__ void blockSync() const { __syncthreads(); }

  __device__ void publish(unsigned char* slot, uint32_t bytes, uint32_t tag, uint64_t* posted,
                          uint64_t* own, uint64_t value) const {
    if (threadIdx.x != 0) return;
    volatile uint32_t* w = reinterpret_cast<volatile uint32_t*>(slot);
    w[0] = bytes;
    w[1] = tag;
    __threadfence_system();
    storeReleaseSystem(posted, value);
    *static_cast<volatile uint64_t*>(own) = value;
  }

  __device__ void release(uint64_t* consumed, uint64_t* own, uint64_t value) const {
    if (threadIdx.x != 0) return;
    storeReleaseSystem(consumed, value);
    *static_cast<volatile uint64_t*>(own) = value;
  }

  __device__ void reduce(uint8_t type, uint8_t op, void* dst, const void* a, const void* b,
                         uint64_t n, int divisor) const {
    kernels::cuda::reduceBlock(static_cast<DataType>(type), static_cast<RedOp>(op), dst, a, b, n,
                               divisor);
  }
  __device__ void divide(uint8_t type, void* dst, const void* src, uint64_t n, int divisor) const {
    kernels::cuda::divideBlock(static_cast<DataType>(type), dst, src, n, divisor);
  }
  __device__ void copy(void* dst, const void* src, uint64_t bytes) const {
    kernels::cuda::copyBlock(dst, src, bytes);
  }

 private:
  DeviceRunControl control_;
  uint32_t* word_;  // shared memory: thread 0's wait result for the block
};

}  // namespace plexus::engine::cuda
