// Memory kinds: the CUDA pointer query and the range cache in front of it.
#include "base/memory_kind.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "base/cuda_runtime.hpp"
#include "base/memory_kind_testing.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace plexus {
namespace {

// Allocation ranges CUDA told us about, by start address. Bounded: cleared when full (allocations
// are few and long-lived in practice; a cleared entry is asked again).
class RangeCache {
 public:
  static constexpr size_t kMaxEntries = 4096;

  bool find(uintptr_t p, MemoryKind* kind) const {
    std::shared_lock lock(mutex_);
    auto it = ranges_.upper_bound(p);
    if (it == ranges_.begin()) return false;
    --it;
    if (p >= it->second.end) return false;
    *kind = it->second.kind;
    return true;
  }

  void insert(const PointerInfo& info) {
    std::unique_lock lock(mutex_);
    if (ranges_.size() >= kMaxEntries) ranges_.clear();
    uintptr_t end = info.start + info.size;
    // A new allocation replaces stale ranges it overlaps (freed memory whose addresses came back).
    auto it = ranges_.lower_bound(info.start);
    if (it != ranges_.begin() && std::prev(it)->second.end > info.start) --it;
    while (it != ranges_.end() && it->first < end) it = ranges_.erase(it);
    ranges_.emplace(info.start, Entry{end, info.kind});
  }

  void clear() {
    std::unique_lock lock(mutex_);
    ranges_.clear();
  }

  size_t size() const {
    std::shared_lock lock(mutex_);
    return ranges_.size();
  }

 private:
  struct Entry {
    uintptr_t end;
    MemoryKind kind;
  };
  mutable std::shared_mutex mutex_;
  std::map<uintptr_t, Entry> ranges_;
};

RangeCache& cache() {
  static RangeCache c;
  return c;
}

std::atomic<PointerQuery> gTestQuery{nullptr};
std::atomic<uint32_t> gGeneration{1};  // bumped when the query changes: forgets the host answers

// Plain host memory has no CUDA range to cache, so each thread remembers its last few host
// pointers exactly: a program that calls with the same host buffers (the usual case) asks CUDA once
// per buffer, not once per call. An address that is host memory stays so: device and managed
// memory live in the address ranges the CUDA driver reserves (unified addressing).
struct HostPointers {
  static constexpr int kEntries = 8;
  uintptr_t ptr[kEntries] = {};
  uint32_t generation = 0;
  int next = 0;

  bool has(uintptr_t p, uint32_t gen) {
    if (generation != gen) {
      *this = HostPointers{};
      generation = gen;
      return false;
    }
    for (uintptr_t q : ptr)
      if (q == p) return true;
    return false;
  }
  void add(uintptr_t p) {
    ptr[next] = p;
    next = (next + 1) % kEntries;
  }
};
thread_local HostPointers tlsHost;

#if PLEXUS_HAVE_CUDA
PointerInfo cudaQuery(const void* p) {
  PointerInfo info;
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    (void)cudaGetLastError();  // not CUDA memory: leave no sticky error behind
    return info;
  }
  switch (a.type) {
    case cudaMemoryTypeDevice:
      info.kind = MemoryKind::kDevice;
      break;
    case cudaMemoryTypeManaged:
      info.kind = MemoryKind::kManaged;
      break;
    case cudaMemoryTypeHost:
      info.kind = MemoryKind::kPinnedHost;
      break;
    default:
      return info;  // unregistered host memory: not cached
  }
  if (!cuda::pointerRange(p, &info.start, &info.size)) info.size = 0;
  return info;
}
#endif

}  // namespace

const char* memoryKindName(MemoryKind k) {
  switch (k) {
    case MemoryKind::kHost:
      return "host";
    case MemoryKind::kPinnedHost:
      return "pinned host";
    case MemoryKind::kDevice:
      return "device";
    case MemoryKind::kManaged:
      return "managed";
  }
  return "unknown";
}

MemoryKind classify(const void* p) {
  PointerQuery query = gTestQuery.load(std::memory_order_acquire);
  if (query == nullptr) {
    if (!cuda::usable()) return MemoryKind::kHost;  // the host fast path: no CUDA call
#if PLEXUS_HAVE_CUDA
    query = cudaQuery;
#else
    return MemoryKind::kHost;
#endif
  }
  if (p == nullptr) return MemoryKind::kHost;
  auto addr = reinterpret_cast<uintptr_t>(p);
  uint32_t gen = gGeneration.load(std::memory_order_acquire);
  if (tlsHost.has(addr, gen)) return MemoryKind::kHost;
  MemoryKind kind;
  if (cache().find(addr, &kind)) return kind;
  PointerInfo info = query(p);
  if (info.size > 0 && addr >= info.start && addr < info.start + info.size)
    cache().insert(info);
  else if (info.kind == MemoryKind::kHost)
    tlsHost.add(addr);
  return info.kind;
}

namespace testing {

void setPointerQuery(PointerQuery query) {
  gTestQuery.store(query, std::memory_order_release);
  gGeneration.fetch_add(1, std::memory_order_acq_rel);
  cache().clear();
}

size_t memoryKindCacheSize() {
  return cache().size();
}

}  // namespace testing
}  // namespace plexus
