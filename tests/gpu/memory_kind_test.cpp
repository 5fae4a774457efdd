// The memory-kind classifier: no CUDA here means every pointer is host memory; with a pointer query
// installed (the test seam), each allocation is asked about once and cached by its range.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "base/cuda_runtime.hpp"
#include "base/memory_kind.hpp"
#include "base/memory_kind_testing.hpp"

namespace plexus {
namespace {

std::atomic<int> gQueries{0};
alignas(64) char gDevice[1 << 16];
alignas(64) char gManaged[4096];

PointerInfo countingQuery(const void* p) {
  gQueries.fetch_add(1);
  auto a = reinterpret_cast<uintptr_t>(p);
  auto dev = reinterpret_cast<uintptr_t>(gDevice);
  auto man = reinterpret_cast<uintptr_t>(gManaged);
  if (a >= dev && a < dev + sizeof(gDevice)) return {MemoryKind::kDevice, dev, sizeof(gDevice)};
  if (a >= man && a < man + sizeof(gManaged)) return {MemoryKind::kManaged, man, sizeof(gManaged)};
  return {};
}

struct QueryGuard {
  explicit QueryGuard(PointerQuery q) {
    gQueries = 0;
    testing::setPointerQuery(q);
  }
  ~QueryGuard() { testing::setPointerQuery(nullptr); }
};

TEST(MemoryKind, WithoutUsableCudaEveryPointerIsHost) {
  if (cuda::usable()) GTEST_SKIP() << "a CUDA device is usable here";
  EXPECT_FALSE(cuda::unusableReason().empty());
  int x = 0;
  EXPECT_EQ(classify(&x), MemoryKind::kHost);
  EXPECT_EQ(classify(gDevice), MemoryKind::kHost);
  EXPECT_EQ(classify(nullptr), MemoryKind::kHost);
}

// The host fast path: without usable CUDA, classify() is two atomic loads. Best of 5 rounds of a
// million calls (the machine may be busy), well under 50 ns a call.
TEST(MemoryKind, WithoutUsableCudaClassifyCostsNanoseconds) {
  if (cuda::usable()) GTEST_SKIP() << "a CUDA device is usable here";
  int x = 0;
  double best = 1e9;
  for (int round = 0; round < 5; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    int device = 0;
    for (int i = 0; i < 1000000; ++i) device += onDevice(classify(&x + (i & 1))) ? 1 : 0;
    std::chrono::duration<double, std::nano> d = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(device, 0);
    best = std::min(best, d.count() / 1e6);
  }
  std::printf("classify() on the host fast path: %.2f ns per call\n", best);
  EXPECT_LT(best, 50.0);
}

TEST(MemoryKind, UnusableReasonIsOneOfTheDocumentedOnes) {
  if (cuda::usable()) GTEST_SKIP() << "a CUDA device is usable here";
  const std::string& r = cuda::unusableReason();
  EXPECT_TRUE(r.rfind("built without CUDA", 0) == 0 ||
              r == "no NVIDIA driver (libcuda.so.1 not found)" || r == "no CUDA device" ||
              r.rfind("cudaGetDeviceCount failed", 0) == 0)
      << r;
}

TEST(MemoryKind, EachAllocationIsAskedOnceThenCachedByRange) {
  QueryGuard g(countingQuery);
  EXPECT_EQ(classify(gDevice), MemoryKind::kDevice);
  EXPECT_EQ(classify(gDevice + 100), MemoryKind::kDevice);
  EXPECT_EQ(classify(gDevice + sizeof(gDevice) - 1), MemoryKind::kDevice);
  EXPECT_EQ(gQueries.load(), 1);
  EXPECT_EQ(classify(gManaged + 8), MemoryKind::kManaged);
  EXPECT_EQ(classify(gManaged), MemoryKind::kManaged);
  EXPECT_EQ(gQueries.load(), 2);
  EXPECT_EQ(testing::memoryKindCacheSize(), 2u);
  EXPECT_STREQ(memoryKindName(MemoryKind::kManaged), "managed");
}

// Host pointers have no range: each thread remembers its last 8 exactly (not in the range cache).
TEST(MemoryKind, RecentHostPointersAreRememberedPerThread) {
  QueryGuard g(countingQuery);
  int x[16] = {};
  EXPECT_EQ(classify(&x[0]), MemoryKind::kHost);
  EXPECT_EQ(classify(&x[0]), MemoryKind::kHost);
  EXPECT_EQ(classify(&x[1]), MemoryKind::kHost);
  EXPECT_EQ(gQueries.load(), 2);
  EXPECT_EQ(testing::memoryKindCacheSize(), 0u);
  for (int& v : x) EXPECT_EQ(classify(&v), MemoryKind::kHost);  // 16 > 8: the oldest are gone
  EXPECT_EQ(gQueries.load(), 2 + 14);
  std::thread([&] { EXPECT_EQ(classify(&x[15]), MemoryKind::kHost); }).join();
  EXPECT_EQ(gQueries.load(), 2 + 14 + 1);  // another thread asks for itself
}

std::atomic<int> gGrowCalls{0};

// The first answer is half of gDevice; later ones the whole of it (the memory was freed and a
// larger allocation came back at the same address).
PointerInfo growingRange(const void*) {
  auto dev = reinterpret_cast<uintptr_t>(gDevice);
  size_t size = gGrowCalls.fetch_add(1) == 0 ? sizeof(gDevice) / 2 : sizeof(gDevice);
  return {MemoryKind::kDevice, dev, size};
}

TEST(MemoryKind, ANewRangeReplacesTheStaleRangesItOverlaps) {
  gGrowCalls = 0;
  QueryGuard g(growingRange);
  EXPECT_EQ(classify(gDevice + 10), MemoryKind::kDevice);
  EXPECT_EQ(classify(gDevice + sizeof(gDevice) / 2 + 10), MemoryKind::kDevice);
  EXPECT_EQ(testing::memoryKindCacheSize(), 1u);
  EXPECT_EQ(classify(gDevice + 10), MemoryKind::kDevice);
  EXPECT_EQ(gGrowCalls.load(), 2);
}

TEST(MemoryKind, ConcurrentCallersAgree) {
  QueryGuard g(countingQuery);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        if (classify(gDevice + (i * 7 + t) % sizeof(gDevice)) != MemoryKind::kDevice) ++wrong;
        if (classify(gManaged + (i % sizeof(gManaged))) != MemoryKind::kManaged) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(gQueries.load(), 16);  // at most one miss per thread and allocation
}

}  // namespace
}  // namespace plexus
