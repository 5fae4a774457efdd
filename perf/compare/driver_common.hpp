// The timing and checking loop shared by the peer all-reduce drivers (mpi_allreduce.cpp,
// gloo_allreduce.cpp) of perf/compare. It measures the way all_reduce_perf (and nccl-tests) does,
// so that the three tables compare: fp32 sum, page-aligned buffers of the largest size allocated
// and touched once, warm-up at the largest and the smallest size, then per size a barrier, `iters`
// back-to-back calls timed together, and the reported time is the maximum over ranks of the mean
// time of one call. algbw = bytes / time, busbw = algbw x 2(n-1)/n (GB/s = 1e9 B/s).
//
// After the timed calls of each size, one call with fresh inputs is checked on every rank: rank r,
// element i holds an integer from (r, i, size), so the sum is exact in fp32 and every rank knows
// it. The send buffer must be unchanged and nothing written past the result. The count of wrong
// elements is summed over ranks; any wrong element makes the driver exit 1.
//
// Output (rank 0, stdout): comment lines starting with '#', then one CSV row per size:
//   size_bytes,count,time_us,algbw_GBps,busbw_GBps,wrong
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace compare {

struct Options {
  size_t minBytes = 8;
  size_t maxBytes = size_t(64) << 20;
  double factor = 2.0;
  int iters = 20;
  int warmup = 5;
  bool inPlace = false;
};

// What a driver provides: its collective and the little it needs to coordinate ranks.
struct Backend {
  int rank = 0;
  int nranks = 1;
  std::string name;
  // out[i] = sum over ranks of in[i]; in == out means in place.
  std::function<void(const float* in, float* out, size_t count)> allReduce;
  std::function<void()> barrier;
  std::function<double(double)> maxOverRanks;
  std::function<double(double)> sumOverRanks;
};

inline size_t parseBytes(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || v < 0) throw std::invalid_argument("bad size '" + s + "'");
  switch (*end) {
    case 'k':
    case 'K':
      v *= 1024.0;
      ++end;
      break;
    case 'm':
    case 'M':
      v *= 1024.0 * 1024.0;
      ++end;
      break;
    case 'g':
    case 'G':
      v *= 1024.0 * 1024.0 * 1024.0;
      ++end;
      break;
    default:
      break;
  }
  if (*end == 'B' || *end == 'b') ++end;
  if (*end != '\0') throw std::invalid_argument("bad size '" + s + "'");
  return static_cast<size_t>(v);
}

// Parses the options every driver takes; returns false (after printing usage) on a bad one.
// Unknown options are left for the driver (returned in `rest`).
inline bool parseOptions(int argc, char** argv, Options& o, std::vector<std::string>& rest) {
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "-b")
        o.minBytes = parseBytes(next());
      else if (a == "-e")
        o.maxBytes = parseBytes(next());
      else if (a == "-f")
        o.factor = std::stod(next());
      else if (a == "-n")
        o.iters = std::stoi(next());
      else if (a == "-w")
        o.warmup = std::stoi(next());
      else if (a == "--in-place")
        o.inPlace = true;
      else
        rest.push_back(a);
    }
    if (o.factor <= 1.0 || o.minBytes > o.maxBytes || o.iters < 1 || o.warmup < 0)
      throw std::invalid_argument("need -f > 1, -b <= -e, -n >= 1, -w >= 0");
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "%s: %s\nusage: %s [-b minbytes] [-e maxbytes] [-f factor] [-n iters] "
                 "[-w warmup] [--in-place] (driver options)\n",
                 argv[0], e.what(), argv[0]);
    return false;
  }
  return true;
}

// Sizes as all_reduce_perf makes them with -b/-e/-f: multiples of the element size.
inline std::vector<size_t> sizeList(const Options& o) {
  std::vector<size_t> out;
  for (double b = static_cast<double>(o.minBytes); b <= static_cast<double>(o.maxBytes) * 1.0000001;
       b *= o.factor) {
    size_t bytes = static_cast<size_t>(b) / sizeof(float) * sizeof(float);
    if (bytes == 0) bytes = sizeof(float);
    if (out.empty() || out.back() != bytes) out.push_back(bytes);
    if (b == 0) break;
  }
  return out;
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

inline Buffer allocate(size_t count) {
  const size_t bytes = (count * sizeof(float) + 4095) / 4096 * 4096;
  void* p = std::aligned_alloc(4096, bytes);
  if (p == nullptr) throw std::runtime_error("out of memory allocating " + std::to_string(bytes));
  std::memset(p, 0, bytes);  // touch every page before anything is timed
  return Buffer(static_cast<float*>(p));
}

// Rank r's check input: small integers (|x| <= 1000), so sums over any number of ranks up to 16000
// stay exact in fp32. `salt` changes the data from one size to the next.
inline float checkValue(int rank, size_t i, uint32_t salt) {
  uint32_t h = static_cast<uint32_t>(i % 4093) * 2654435761u ^ (salt * 40503u) ^
               (static_cast<uint32_t>(rank) + 1) * 97u;
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return static_cast<float>(static_cast<int>(h % 2001) - 1000);
}

constexpr size_t kGuard = 4096 / sizeof(float);  // elements checked past the end of the result
constexpr float kGuardValue = -12345.0f;

// Runs the sweep; returns the process exit status (0 all right, 1 wrong results).
inline int runSweep(const Backend& be, const Options& o) {
  const std::vector<size_t> sizes = sizeList(o);
  const size_t maxCount = sizes.back() / sizeof(float);
  Buffer send = allocate(maxCount + kGuard);
  Buffer recv = allocate(maxCount + kGuard);
  for (size_t i = 0; i < maxCount; ++i) send.get()[i] = 1.0f;

  if (be.rank == 0) {
    std::printf("# driver %s ranks %d iters %d warmup %d %s\n", be.name.c_str(), be.nranks, o.iters,
                o.warmup, o.inPlace ? "in-place" : "out-of-place");
    std::printf("size_bytes,count,time_us,algbw_GBps,busbw_GBps,wrong\n");
    std::fflush(stdout);
  }
  auto call = [&](size_t count) {
    be.allReduce(send.get(), o.inPlace ? send.get() : recv.get(), count);
  };
  be.barrier();
  for (size_t bytes : {sizes.back(), sizes.front()})
    for (int w = 0; w < o.warmup; ++w) call(bytes / sizeof(float));

  uint64_t wrongTotal = 0;
  uint32_t salt = 1;
  for (size_t bytes : sizes) {
    const size_t count = bytes / sizeof(float);
    // Timed: the same inputs every call (in place: zeros, so repeated sums stay finite).
    for (size_t i = 0; i < count; ++i) send.get()[i] = o.inPlace ? 0.0f : 1.0f;
    be.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    for (int it = 0; it < o.iters; ++it) call(count);
    const double mean =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / o.iters;
    const double t = be.maxOverRanks(mean);

    // Checked: fresh inputs, guard values after the result, one call.
    ++salt;
    float* in = send.get();
    float* out = o.inPlace ? send.get() : recv.get();
    for (size_t i = 0; i < count; ++i) in[i] = checkValue(be.rank, i, salt);
    for (size_t i = 0; i < kGuard; ++i) out[count + i] = kGuardValue;
    if (!o.inPlace)
      for (size_t i = 0; i < count; ++i) out[i] = -7.0f;
    be.barrier();
    call(count);
    uint64_t wrong = 0;
    for (size_t i = 0; i < count; ++i) {
      float expect = 0.0f;
      for (int r = 0; r < be.nranks; ++r) expect += checkValue(r, i, salt);
      if (out[i] != expect) ++wrong;
      if (!o.inPlace && in[i] != checkValue(be.rank, i, salt)) ++wrong;  // send buffer changed
    }
    for (size_t i = 0; i < kGuard; ++i)
      if (out[count + i] != kGuardValue) ++wrong;
    const uint64_t wrongAll = static_cast<uint64_t>(be.sumOverRanks(static_cast<double>(wrong)));
    wrongTotal += wrongAll;
    if (wrong > 0)
      std::fprintf(stderr, "%s rank %d: %llu wrong elements at %zu bytes\n", be.name.c_str(),
                   be.rank, static_cast<unsigned long long>(wrong), bytes);

    const double algbw = static_cast<double>(bytes) / t / 1e9;
    const double busbw = algbw * 2.0 * (be.nranks - 1) / be.nranks;
    if (be.rank == 0) {
      std::printf("%zu,%zu,%.3f,%.4f,%.4f,%llu\n", bytes, count, t * 1e6, algbw, busbw,
                  static_cast<unsigned long long>(wrongAll));
      std::fflush(stdout);
    }
  }
  if (be.rank == 0)
    std::printf("# wrong elements: %llu %s\n", static_cast<unsigned long long>(wrongTotal),
                wrongTotal == 0 ? "OK" : "FAILED");
  return wrongTotal == 0 ? 0 : 1;
}

}  // namespace compare
