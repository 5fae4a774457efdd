// Microbenchmark of the host reduction kernels (src/kernels): sum over every datatype and every
// kernel family this CPU runs, buffers of 4 KiB to 64 MiB, next to memcpy and a plain two-input
// stream (dst = a | b, 256-bit) of the same size, all in one run so the numbers compare.
//
// Counters: bytes_per_second is buffer bytes per second (one element of dst per element of a and
// b), the same unit for every row; traffic_GBps is memory traffic (reduce and stream: read a and
// b, write dst = 3x the buffer; memcpy: 2x). A reduction runs at the speed of memory when its
// bytes_per_second matches the stream2 row of the same size.
//
// The versus/<type>/<bytes> rows run memcpy, the stream and the dispatched reduction one after the
// other in every iteration and keep the fastest run of each, so that their ratios hold even on a
// busy machine: vs_stream2 = 1.0 means the reduction runs at the speed of memory.
//
//   perf_micro_reduce --benchmark_filter='/(float|bfloat16|half)/avx512/'
//   perf_micro_reduce --benchmark_filter='memcpy|stream2|active'   (the dispatched family only)
//   perf_micro_reduce --benchmark_filter='versus' --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/float_convert.hpp"
#include "kernels/reduce.hpp"
#include "kernels/reduce_kernels.hpp"

namespace {

using plexus::DataType;
using plexus::kernels::Isa;
using plexus::kernels::ReduceKernels;

constexpr size_t kMinBytes = size_t(4) << 10;
constexpr size_t kMaxBytes = size_t(64) << 20;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;

Buffer allocate(size_t bytes) {  // page aligned, touched so that no page fault is timed
  void* p = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  if (p == nullptr) std::abort();
  std::memset(p, 0, bytes);
  return Buffer(static_cast<uint8_t*>(p));
}

// Ordinary finite values (no NaN, no subnormals: those would measure microcode assists instead of
// the kernels), encoded for the type.
void fillValues(DataType t, uint8_t* p, size_t n, uint32_t seed) {
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    const float f = 1.0f + float(x >> 8) * (1.0f / 16777216.0f);  // [1, 2)
    switch (t) {
      case DataType::kFloat16: {
        const uint16_t v = plexus::floatToHalf(f);
        std::memcpy(p + 2 * i, &v, 2);
        break;
      }
      case DataType::kBfloat16: {
        const uint16_t v = plexus::floatToBf16(f);
        std::memcpy(p + 2 * i, &v, 2);
        break;
      }
      case DataType::kFloat32:
        std::memcpy(p + 4 * i, &f, 4);
        break;
      case DataType::kFloat64: {
        const double d = f;
        std::memcpy(p + 8 * i, &d, 8);
        break;
      }
      case DataType::kFp8E4M3:
        p[i] = plexus::floatToFp8E4M3(f);
        break;
      case DataType::kFp8E5M2:
        p[i] = plexus::floatToFp8E5M2(f);
        break;
      default: {  // integers: any bits
        const size_t es = plexus::dataTypeSize(t);
        std::memcpy(p + es * i, &x, es < 4 ? es : 4);
        if (es == 8) std::memcpy(p + es * i + 4, &x, 4);
      }
    }
  }
}

void setCounters(benchmark::State& state, size_t bytes, double trafficFactor) {
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
  state.counters["traffic_GBps"] = benchmark::Counter(
      trafficFactor * double(bytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void benchReduce(benchmark::State& state, DataType type, const ReduceKernels* k) {
  const size_t bytes = size_t(state.range(0));
  const size_t count = bytes / plexus::dataTypeSize(type);
  Buffer a = allocate(bytes), b = allocate(bytes), dst = allocate(bytes);
  fillValues(type, a.get(), count, 1);
  fillValues(type, b.get(), count, 2);
  const auto fn = k->reduce[int(type)][int(plexus::RedOp::kSum)];
  for (auto _ : state) {
    fn(dst.get(), a.get(), b.get(), count);
    benchmark::ClobberMemory();
  }
  setCounters(state, bytes, 3.0);
}

void benchMemcpy(benchmark::State& state) {
  const size_t bytes = size_t(state.range(0));
  Buffer src = allocate(bytes), dst = allocate(bytes);
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), bytes);
    benchmark::ClobberMemory();
  }
  setCounters(state, bytes, 2.0);
}

// The memory traffic of a two-input reduction with no arithmetic: read a and b, write dst.
#if defined(__x86_64__)
__attribute__((target("avx2"))) void stream2Avx2(uint8_t* d, const uint8_t* a, const uint8_t* b,
                                                 size_t bytes) {
  size_t i = 0;
  for (; i + 128 <= bytes; i += 128) {
    for (size_t k = 0; k < 128; k += 32) {
      const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + i + k));
      const __m256i y = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + i + k));
      _mm256_store_si256(reinterpret_cast<__m256i*>(d + i + k), _mm256_or_si256(x, y));
    }
  }
  for (; i < bytes; ++i) d[i] = a[i] | b[i];
}
#endif

void stream2Portable(uint8_t* d, const uint8_t* a, const uint8_t* b, size_t bytes) {
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    x |= y;
    std::memcpy(d + i, &x, 8);
  }
}

using Stream2Fn = void (*)(uint8_t*, const uint8_t*, const uint8_t*, size_t);

Stream2Fn pickStream2() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return &stream2Avx2;
#endif
  return &stream2Portable;
}

void benchStream2(benchmark::State& state) {
  const size_t bytes = size_t(state.range(0));
  Buffer a = allocate(bytes), b = allocate(bytes), dst = allocate(bytes);
  const Stream2Fn fn = pickStream2();
  for (auto _ : state) {
    fn(dst.get(), a.get(), b.get(), bytes);
    benchmark::ClobberMemory();
  }
  setCounters(state, bytes, 3.0);
}

// memcpy, stream2 and the reduction, interleaved; the fastest run of each is kept.
void benchVersus(benchmark::State& state, DataType type, const ReduceKernels* k) {
  using Clock = std::chrono::steady_clock;
  const size_t bytes = size_t(state.range(0));
  const size_t count = bytes / plexus::dataTypeSize(type);
  Buffer a = allocate(bytes), b = allocate(bytes), dst = allocate(bytes);
  fillValues(type, a.get(), count, 1);
  fillValues(type, b.get(), count, 2);
  const auto fn = k->reduce[int(type)][int(plexus::RedOp::kSum)];
  const Stream2Fn stream2 = pickStream2();
  double best[3] = {1e30, 1e30, 1e30};  // memcpy, stream2, reduce (seconds)
  for (auto _ : state) {
    const auto t0 = Clock::now();
    std::memcpy(dst.get(), a.get(), bytes);
    benchmark::ClobberMemory();
    const auto t1 = Clock::now();
    stream2(dst.get(), a.get(), b.get(), bytes);
    benchmark::ClobberMemory();
    const auto t2 = Clock::now();
    fn(dst.get(), a.get(), b.get(), count);
    benchmark::ClobberMemory();
    const auto t3 = Clock::now();
    const double t[3] = {std::chrono::duration<double>(t1 - t0).count(),
                         std::chrono::duration<double>(t2 - t1).count(),
                         std::chrono::duration<double>(t3 - t2).count()};
    for (int i = 0; i < 3; ++i) best[i] = std::min(best[i], t[i]);
    state.SetIterationTime(t[2]);
  }
  const double gb = double(bytes) * 1e-9;
  state.counters["GBps"] = gb / best[2];
  state.counters["stream2_GBps"] = gb / best[1];
  state.counters["memcpy_GBps"] = gb / best[0];
  state.counters["vs_stream2"] = best[1] / best[2];
  state.counters["vs_memcpy"] = best[0] / best[2];
}

void applySizes(benchmark::internal::Benchmark* b) {
  b->RangeMultiplier(4)->Range(int64_t(kMinBytes), int64_t(kMaxBytes));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("reduce_kernel_isa", plexus::reduceKernelIsa());
  applySizes(benchmark::RegisterBenchmark("memcpy", benchMemcpy));
  applySizes(benchmark::RegisterBenchmark("stream2", benchStream2));
  // The dispatched family first ("active"), then every family by name.
  const ReduceKernels* active = &plexus::kernels::activeKernels();
  for (int t = 0; t < plexus::kNumDataTypes; ++t) {
    const DataType type = DataType(t);
    applySizes(benchmark::RegisterBenchmark(
        (std::string("sum/") + plexus::dataTypeName(type) + "/active").c_str(),
        [type, active](benchmark::State& s) { benchReduce(s, type, active); }));
  }
  for (int t = 0; t < plexus::kNumDataTypes; ++t) {
    const DataType type = DataType(t);
    applySizes(benchmark::RegisterBenchmark(
                   (std::string("versus/") + plexus::dataTypeName(type)).c_str(),
                   [type, active](benchmark::State& s) { benchVersus(s, type, active); })
                   ->UseManualTime());
  }
  for (int i = 0; i < plexus::kernels::kNumIsas; ++i) {
    const ReduceKernels* k = plexus::kernels::kernelsFor(Isa(i));
    if (k == nullptr) continue;
    for (int t = 0; t < plexus::kNumDataTypes; ++t) {
      const DataType type = DataType(t);
      applySizes(benchmark::RegisterBenchmark(
          (std::string("sum/") + plexus::dataTypeName(type) + "/" + k->name).c_str(),
          [type, k](benchmark::State& s) { benchReduce(s, type, k); }));
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
