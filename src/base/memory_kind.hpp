// Which kind of memory a buffer is, so that each call picks its path: host memory goes to the host
// engine as always; device (and managed) memory goes to the staged device path on the user's
// stream (runtime/staged_executor.hpp). Classification asks CUDA (cudaPointerGetAttributes) once
// per allocation: CUDA-known allocations are cached by their range (cuPointerGetAttribute
// RANGE_START_ADDR / RANGE_SIZE), so later calls on any address inside them are a map lookup.
// Where CUDA is not usable (no build support, no driver, no device) every pointer is kHost and
// classify() costs two atomic loads: no CUDA call per operation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace plexus {

enum class MemoryKind { kHost, kPinnedHost, kDevice, kManaged };

const char* memoryKindName(MemoryKind k);  // "host", "pinned host", "device", "managed"

// Device and managed memory take the staged path; host and pinned host memory the host engine.
inline bool onDevice(MemoryKind k) {
  return k == MemoryKind::kDevice || k == MemoryKind::kManaged;
}

// The kind of the memory at `p` (nullptr: kHost). Thread-safe.
MemoryKind classify(const void* p);

// What an uncached classification learns about a pointer: its kind and, for memory CUDA knows,
// the allocation range (size 0: nothing to cache; plain host memory is never cached).
struct PointerInfo {
  MemoryKind kind = MemoryKind::kHost;
  uintptr_t start = 0;
  size_t size = 0;
};
using PointerQuery = PointerInfo (*)(const void* p);

}  // namespace plexus
