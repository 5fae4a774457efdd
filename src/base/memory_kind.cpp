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
  MemoryKind kind;
  if (cache().find(addr, &kind)) return kind;
  PointerInfo info = query(p);
  if (info.size > 0 && addr >= info.start && addr < info.start + info.size) cache().insert(info);
  return info.kind;
}

namespace testing {

void setPointerQuery(PointerQuery query) {
  gTestQuery.store(query, std::memory_order_release);
  cache().clear();
}

size_t memoryKindCacheSize() {
  return cache().size();
}

}  // namespace testing
}  // namespace plexus
