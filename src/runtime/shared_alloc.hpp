// Host memory that peers on this host can map: ncclMemAlloc's buffers (allocChoice).
// Each allocation is a memfd mapped MAP_SHARED and kept open, so that a peer maps the same pages
// through /proc/<pid>/fd/<fd>; single copy (runtime/single_copy.hpp) then reduces straight from
// the peers' buffers instead of copying them with process_vm_readv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace plexus::runtime {

struct SharedRegion {
  int fd = -1;
  uint64_t id = 0;  // unique in this process (fds are reused after a free)
  const std::byte* base = nullptr;
  size_t size = 0;
};

// Where ncclMemAlloc takes `bytes` from, by PLEXUS_SINGLE_COPY (single_copy.hpp's settings):
// kShared with auto (the default) when `bytes` is at least PLEXUS_SINGLE_COPY_MIN, plain memory
// if sharedAlloc fails (smaller buffers never take zero copy, and each allocation holds a file
// descriptor); kSharedOnly with 1 (a failure is ncclMemAlloc's error); kPlain with 0 or below
// the threshold. Throws Error(kInvalidArgument) on a malformed setting.
enum class AllocChoice { kPlain, kShared, kSharedOnly };
AllocChoice allocChoice(size_t bytes);
// A page-aligned, zeroed buffer of `bytes` (at least one page); throws Error(kSystem).
void* sharedAlloc(size_t bytes);
// Frees a buffer of sharedAlloc; false when `p` is not one (then the caller frees it).
bool sharedFree(void* p);
// The region of sharedAlloc that holds [p, p + bytes), if there is one.
std::optional<SharedRegion> sharedRegionOf(const void* p, size_t bytes);

}  // namespace plexus::runtime
