// Copies for the engine's data path: a plain copy, and a streaming copy whose stores bypass the
// caches (non-temporal) for results that are written once and not read back soon — the output of
// an all-reduce larger than the last-level cache. Write-allocate would otherwise read every
// destination line from memory before overwriting it, a third more memory traffic per copy.
#pragma once

#include <cstddef>

namespace plexus {

// memcpy(dst, src, bytes) with non-temporal stores where the CPU has them (x86-64: SSE2, always);
// a plain memcpy elsewhere. dst and src must not overlap. Stores are fenced before returning, so
// the data is visible to other threads and processes like that of a memcpy.
void streamCopy(void* dst, const void* src, size_t bytes);

}  // namespace plexus
