// The nvls all-reduce kernel (nvls_executor.hpp): chunks through the multicast group's memory,
// one block per channel, multimem reductions for its share, barriers through multimem.red.
#include "engine/cuda/nvls_executor.hpp"

#include "base/error.hpp"
#include "engine/cuda/device_executor.hpp"
#include "kernels/cuda/multimem.cuh"
#include "kernels/cuda/reduce_device.cuh"
#include "kernels/datatype.hpp"

namespace plexus::engine::cuda {
namespace {

namespace kc = kernels::cuda;

struct NvlsArgs {
  NvlsCall call;
  unsigned char* ucData = nullptr;  // this GPU's data area
  unsigned char* mcData = nullptr;  // the same through the multicast address
  unsigned char* ucFlags = nullptr;
  unsigned char* mcFlags = nullptr;
  uint64_t capacity = 0;  // bytes of the data area
  const volatile int* abort = nullptr;
  exec::ExecStatus* status = nullptr;
  unsigned long long timeoutCycles = 0;
};

// Adds v to the u32 at mcAddr on every GPU of the multicast object, release at system scope,
// then orders the multicast access before later unicast accesses of the same memory.
__device__ inline void multimemAddRelease(uint32_t* mcAddr, uint32_t v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("multimem.red.release.sys.global.add.u32 [%0], %1;" ::"l"(mcAddr), "r"(v)
               : "memory");
  asm volatile("fence.proxy.alias;" ::: "memory");
#else
  (void)mcAddr;
  (void)v;
  __trap();
#endif
}

__device__ inline uint32_t loadAcquireSystem32(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// Per block: its flag slot and the barriers it has passed (thread 0's; shared memory).
struct Barrier {
  uint32_t* mcCounter;
  uint32_t* ucCounter;
  uint32_t* passed;  // unicast, this rank only
};

// The barrier of one channel (every thread calls it). Returns kExecOk, or the wait's failure
// (written to the status by thread 0).
__device__ uint32_t channelBarrier(const NvlsArgs& a, const Barrier& b, uint32_t& generation,
                                   uint32_t* word, int step, uint64_t chunk) {
  __threadfence_system();  // this thread's copies and multimem stores, before the release
  __syncthreads();
  if (threadIdx.x == 0) {
    generation += 1;
    const uint32_t target = generation * static_cast<uint32_t>(a.call.nranks);
    multimemAddRelease(b.mcCounter, 1);
    uint32_t rc = exec::kExecOk;
    uint32_t seen = 0;
    const long long start = clock64();
    while (static_cast<int32_t>((seen = loadAcquireSystem32(b.ucCounter)) - target) < 0) {
      if (a.abort != nullptr && *a.abort != 0) {
        rc = exec::kExecAborted;
        break;
      }
      if (static_cast<unsigned long long>(clock64() - start) > a.timeoutCycles) {
        rc = exec::kExecTimeout;
        break;
      }
      __nanosleep(64);
    }
    asm volatile("fence.proxy.alias;" ::: "memory");
    if (rc != exec::kExecOk && a.status != nullptr) {
      exec::ExecStatus& s = a.status[blockIdx.x];
      s.code = rc;
      s.channel = static_cast<int32_t>(blockIdx.x);
      s.step = step;
      s.piece = chunk;
      s.message = target;
      s.gotBytes = seen;
    }
    *word = rc;
  }
  __syncthreads();
  const uint32_t rc = *word;
  __syncthreads();
  return rc;
}

// Step 2 for this block: its share of the chunk's vectors, reduced and stored to every GPU.
__device__ void reduceShare(const NvlsArgs& a, uint64_t chunkBytes) {
  const NvlsRange s = nvlsShare(chunkBytes, static_cast<int>(blockIdx.x), a.call.nchannels,
                                a.call.rank, a.call.nranks);
  unsigned char* p = a.mcData + s.first * kNvlsVectorBytes;
  switch (a.call.type) {
    case DataType::kFloat16:
      kc::multimemAllReduceSumBlock<kc::MultimemType::kF16>(p, p, s.count);
      break;
    case DataType::kBfloat16:
      kc::multimemAllReduceSumBlock<kc::MultimemType::kBf16>(p, p, s.count);
      break;
    default:
      kc::multimemAllReduceSumBlock<kc::MultimemType::kF32>(p, p, s.count);
      break;
  }
}

__global__ void nvlsAllReduceKernel(NvlsArgs a) {
  __shared__ uint32_t word;
  __shared__ uint32_t generation;
  unsigned char* slot = a.ucFlags + blockIdx.x * kNvlsChannelFlagBytes;
  const Barrier b{reinterpret_cast<uint32_t*>(a.mcFlags + blockIdx.x * kNvlsChannelFlagBytes),
                  reinterpret_cast<uint32_t*>(slot), reinterpret_cast<uint32_t*>(slot + 8)};
  if (threadIdx.x == 0) {
    generation = *static_cast<volatile uint32_t*>(b.passed);
    if (a.status != nullptr) a.status[blockIdx.x] = exec::ExecStatus{};
  }
  __syncthreads();
  const uint64_t esz = nvlsElementBytes(a.call.type);
  const uint64_t total = a.call.count * esz;
  const auto* in = static_cast<const unsigned char*>(a.call.input);
  auto* out = static_cast<unsigned char*>(a.call.output);
  uint64_t chunk = 0;
  for (uint64_t done = 0; done < total; done += a.capacity, ++chunk) {
    const uint64_t bytes = nvlsChunkBytes(total, done, a.capacity);
    const NvlsBytes mine = nvlsChannelBytes(bytes, static_cast<int>(blockIdx.x), a.call.nchannels);
    const uint64_t b0 = mine.begin;
    const uint64_t b1 = mine.end;
    if (b1 > b0) kc::copyBlock(a.ucData + b0, in + done + b0, b1 - b0);
    if (channelBarrier(a, b, generation, &word, 0, chunk) != exec::kExecOk) break;
    reduceShare(a, bytes);
    if (channelBarrier(a, b, generation, &word, 1, chunk) != exec::kExecOk) break;
    if (b1 <= b0) continue;
    if (a.call.op == RedOp::kAvg) {
      kc::divideBlock(a.call.type, out + done + b0, a.ucData + b0, (b1 - b0) / esz, a.call.nranks);
    } else {
      kc::copyBlock(out + done + b0, a.ucData + b0, b1 - b0);
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) *static_cast<volatile uint32_t*>(b.passed) = generation;
}

}  // namespace

std::string nvlsLaunchProblem(const NvlsCall& call, const NvlsMemory& memory) {
  if (!nvlsSupports(call.type, call.op))
    return formatString("the switch reduces only f32, f16 and bf16 with sum or avg, not %s %s",
                        dataTypeName(call.type), redOpName(call.op));
  if (call.nranks < 1 || call.rank < 0 || call.rank >= call.nranks || call.nchannels < 1)
    return formatString("rank %d of %d ranks with %d channels is not a valid call", call.rank,
                        call.nranks, call.nchannels);
  if (memory.unicast == nullptr || memory.multicast == nullptr)
    return "no multicast memory (create a MulticastGroup first)";
  if (nvlsDataCapacity(memory.bytes, call.nchannels) == 0)
    return formatString(
        "the multicast memory of %llu bytes holds no data after the flags of %d "
        "channels",
        static_cast<unsigned long long>(memory.bytes), call.nchannels);
  if (call.count != 0 && (call.input == nullptr || call.output == nullptr))
    return "null input or output";
  int device = -1, major = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess)
    return "no current CUDA device";
  if (major < 9)
    return formatString("device %d has compute capability %d.x; multimem needs sm_90 or newer",
                        device, major);
  return "";
}

void launchNvlsAllReduce(const NvlsCall& call, const NvlsMemory& memory, const NvlsLaunch& launch,
                         cudaStream_t stream) {
  const std::string problem = nvlsLaunchProblem(call, memory);
  if (!problem.empty())
    throwError(ErrorCode::kInvalidUsage,
               "nvls executor: rank %d cannot run the all-reduce in the switch: %s; use the "
               "generic device executor",
               call.rank, problem.c_str());
  NvlsArgs a;
  a.call = call;
  const uint64_t at = nvlsDataOffset(call.nchannels);
  a.ucFlags = memory.unicast;
  a.mcFlags = memory.multicast;
  a.ucData = memory.unicast + at;
  a.mcData = memory.multicast + at;
  a.capacity = nvlsDataCapacity(memory.bytes, call.nchannels);
  a.abort = launch.abort;
  a.status = launch.status;
  a.timeoutCycles = launch.timeoutCycles != 0 ? launch.timeoutCycles : 60ull * 1000 * 1000 * 1000;
  nvlsAllReduceKernel<<<static_cast<unsigned>(call.nchannels),
                        static_cast<unsigned>(launch.threadsPerBlock), 0, stream>>>(a);
  checkCuda(cudaGetLastError(), "launch of the nvls all-reduce kernel");
}

}  // namespace plexus::engine::cuda
