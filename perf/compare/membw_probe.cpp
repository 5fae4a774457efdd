// perf/compare memory-bandwidth probe: how fast this machine moves the bytes an all-reduce must
// move, on buffers several times the last-level cache, with 1 thread and with T threads (T = the
// number of ranks compared; threads split each buffer into contiguous slices).
//
//   copy   c = a        (memcpy of each slice)        traffic 2 x buffer (3 with write-allocate)
//   add    c = a + b    (fp32, compiled for this CPU) traffic 3 x buffer (4 with write-allocate)
//   add_nt c = a + b    with non-temporal stores      traffic 3 x buffer
//
// Rates are buffer bytes (bytes of c) per second, GB/s = 1e9 B/s: the unit of busbw, so that a
// 2-rank all-reduce, which must reduce every byte once somewhere, is bounded by the add rate of
// 2 threads (and pays a copy on top). Each rate is the best and the median of --reps runs.
//
//   membw_probe [--threads 1,2] [--mib 256] [--reps 7]
// Output: '#' comments, then CSV rows kernel,threads,buffer_MiB,best_GBps,median_GBps
#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

Buffer allocate(size_t count) {
  void* p = std::aligned_alloc(4096, (count * sizeof(float) + 4095) / 4096 * 4096);
  if (p == nullptr) throw std::runtime_error("out of memory");
  return Buffer(static_cast<float*>(p));
}

__attribute__((noinline)) void addLoop(float* __restrict c, const float* __restrict a,
                                       const float* __restrict b, size_t n) {
  for (size_t i = 0; i < n; ++i) c[i] = a[i] + b[i];
}

__attribute__((noinline)) void addStream(float* __restrict c, const float* __restrict a,
                                         const float* __restrict b, size_t n) {
  size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_stream_ps(c + i, _mm512_add_ps(_mm512_load_ps(a + i), _mm512_load_ps(b + i)));
#elif defined(__AVX__)
  for (; i + 8 <= n; i += 8)
    _mm256_stream_ps(c + i, _mm256_add_ps(_mm256_load_ps(a + i), _mm256_load_ps(b + i)));
#else
  for (; i + 4 <= n; i += 4)
    _mm_stream_ps(c + i, _mm_add_ps(_mm_load_ps(a + i), _mm_load_ps(b + i)));
#endif
  for (; i < n; ++i) c[i] = a[i] + b[i];
  _mm_sfence();
}

// The last-level cache of cpu0 from sysfs (glibc's sysconf reports 10x too much on some AMD
// virtual machines), else sysconf, else 32 MiB.
size_t llcBytes() {
  size_t best = 0;
  for (int index = 0; index < 8; ++index) {
    std::string path = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size";
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) continue;
    unsigned long long v = 0;
    char unit = 0;
    if (std::fscanf(f, "%llu%c", &v, &unit) >= 1) {
      if (unit == 'K') v <<= 10;
      if (unit == 'M') v <<= 20;
      best = std::max<size_t>(best, v);
    }
    std::fclose(f);
  }
  if (best > 0) return best;
  long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (v <= 0) v = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return v > 0 ? static_cast<size_t>(v) : size_t(32) << 20;
}

enum class Kernel { kCopy, kAdd, kAddNt };
const char* kernelName(Kernel k) {
  return k == Kernel::kCopy ? "copy" : k == Kernel::kAdd ? "add" : "add_nt";
}

// Runs `kernel` on T threads over slices of the buffers, `reps` times; returns buffer GB/s of
// each run.
std::vector<double> measure(Kernel kernel, int threads, float* a, float* b, float* c, size_t n,
                            int reps) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> rates;
  std::barrier sync(threads + 1);
  std::vector<std::thread> pool;
  // Each thread stamps its own start and end: a run lasts from the first start to the last end
  // (the main thread may be descheduled on a busy machine, so it does not time anything).
  std::vector<Clock::time_point> starts(static_cast<size_t>(threads)),
      ends(static_cast<size_t>(threads));
  // 64-byte aligned slices.
  auto slice = [&](int t, size_t* begin, size_t* end) {
    size_t per = (n / threads + 15) / 16 * 16;
    *begin = std::min(n, per * static_cast<size_t>(t));
    *end = t == threads - 1 ? n : std::min(n, *begin + per);
  };
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      size_t lo, hi;
      slice(t, &lo, &hi);
      for (int r = 0; r < reps; ++r) {
        sync.arrive_and_wait();  // start
        starts[static_cast<size_t>(t)] = Clock::now();
        switch (kernel) {
          case Kernel::kCopy:
            std::memcpy(c + lo, a + lo, (hi - lo) * sizeof(float));
            break;
          case Kernel::kAdd:
            addLoop(c + lo, a + lo, b + lo, hi - lo);
            break;
          case Kernel::kAddNt:
            addStream(c + lo, a + lo, b + lo, hi - lo);
            break;
        }
        ends[static_cast<size_t>(t)] = Clock::now();
        sync.arrive_and_wait();  // done
      }
    });
  for (int r = 0; r < reps; ++r) {
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    const auto first = *std::min_element(starts.begin(), starts.end());
    const auto last = *std::max_element(ends.begin(), ends.end());
    const double s = std::chrono::duration<double>(last - first).count();
    rates.push_back(static_cast<double>(n * sizeof(float)) / s / 1e9);
  }
  for (auto& th : pool) th.join();
  return rates;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> threadCounts = {1};
  size_t mib = 0;
  int reps = 7;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: %s [--threads 1,2] [--mib 256] [--reps 7]\n", argv[0]);
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--threads") {
      threadCounts.clear();
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        if (comma == std::string::npos) comma = v.size();
        threadCounts.push_back(std::max(1, std::atoi(v.substr(pos, comma - pos).c_str())));
        pos = comma + 1;
      }
    } else if (a == "--mib") {
      mib = static_cast<size_t>(std::atol(v.c_str()));
    } else if (a == "--reps") {
      reps = std::max(1, std::atoi(v.c_str()));
    } else {
      std::fprintf(stderr, "%s: unknown option %s\n", argv[0], a.c_str());
      return 2;
    }
  }
  const size_t llc = llcBytes();
  if (mib == 0) mib = std::clamp<size_t>(8 * llc >> 20, 256, 1024);  // each of a, b, c
  const size_t n = (mib << 20) / sizeof(float);
  Buffer a = allocate(n), b = allocate(n), c = allocate(n);
  // Touch every page (and make the values ordinary floats) before anything is timed.
  for (size_t i = 0; i < n; ++i) {
    a.get()[i] = 1.0f + static_cast<float>(i & 1023);
    b.get()[i] = 2.0f;
    c.get()[i] = 0.0f;
  }
  std::printf("# membw_probe: last-level cache %zu MiB, buffers a, b, c of %zu MiB each, %d reps\n",
              llc >> 20, mib, reps);
  std::printf("# rate = bytes of the output buffer per second (GB/s = 1e9 B/s)\n");
  std::printf("kernel,threads,buffer_MiB,best_GBps,median_GBps\n");
  for (int t : threadCounts)
    for (Kernel k : {Kernel::kCopy, Kernel::kAdd, Kernel::kAddNt}) {
      measure(k, t, a.get(), b.get(), c.get(), n, 1);  // warm-up
      std::vector<double> r = measure(k, t, a.get(), b.get(), c.get(), n, reps);
      std::sort(r.begin(), r.end());
      std::printf("%s,%d,%zu,%.2f,%.2f\n", kernelName(k), t, mib, r.back(), r[r.size() / 2]);
      std::fflush(stdout);
    }
  // The values must be right (and used) or the compiler may drop the work.
  for (size_t i = 0; i < n; i += 4093)
    if (c.get()[i] != a.get()[i] + b.get()[i]) {
      std::fprintf(stderr, "membw_probe: wrong sum at %zu\n", i);
      return 1;
    }
  return 0;
}
