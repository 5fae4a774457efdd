// Test seam of base/memory_kind.hpp, for tests that link the layers statically (libplexus.so
// exports none of this): a fake pointer query stands in for CUDA, so that the classifier's cache
// and the device-buffer paths can be tested on a machine without a GPU.
#pragma once

#include <cstddef>

#include "base/memory_kind.hpp"

namespace plexus::testing {

// Replaces the CUDA query (nullptr restores it) and clears the cache. While a query is set,
// classify() uses it even where CUDA is not usable.
void setPointerQuery(PointerQuery query);
// Entries in the range cache.
size_t memoryKindCacheSize();

}  // namespace plexus::testing
