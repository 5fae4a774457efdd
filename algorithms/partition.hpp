// Even partitions of element ranges, shared by the builders: part i of k of [0, len) as
// [begin, end), the first len % k parts one element larger (the channelPart rule).
#pragma once

#include <cstdint>
#include <utility>

namespace plexus::algo {

inline std::pair<uint64_t, uint64_t> evenPart(uint64_t len, uint64_t i, uint64_t k) {
  const uint64_t base = len / k;
  const uint64_t extra = len % k;
  const uint64_t begin = i * base + (i < extra ? i : extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

// Number of parts of at most `maxPart` elements needed for `len` elements (0 when len == 0).
inline uint64_t partsOfAtMost(uint64_t len, uint64_t maxPart) {
  return len == 0 ? 0 : (len + maxPart - 1) / maxPart;
}

}  // namespace plexus::algo
