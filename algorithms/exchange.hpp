// Internal to the exchange-style builders (recursive halving/doubling, Bruck, direct, pairwise):
// lists of element ranges and one exchange phase sequence over them (see the deadlock rule in
// build_common.hpp). Sender and receiver of a message compute the same list of range lengths,
// so they cut the same pieces.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "algorithms/build_common.hpp"

namespace plexus::algo::detail {

struct Range {
  uint64_t offset = 0;
  uint64_t count = 0;
};
using Ranges = std::vector<Range>;

// Appends [offset, offset + count), merged into the last range when adjacent; empty ranges are
// skipped.
inline void addRange(Ranges& r, uint64_t offset, uint64_t count, bool merge = true) {
  if (count == 0) return;
  if (merge && !r.empty() && r.back().offset + r.back().count == offset) {
    r.back().count += count;
  } else {
    r.push_back({offset, count});
  }
}

// The part [a, b) of blocks o0..o1-1 of `blockSize` elements each (block o at o * blockSize).
inline Ranges blockRanges(int64_t o0, int64_t o1, uint64_t blockSize, uint64_t a, uint64_t b,
                          bool merge = true) {
  Ranges r;
  for (int64_t o = o0; o < o1; ++o) {
    addRange(r, static_cast<uint64_t>(o) * blockSize + a, b - a, merge);
  }
  return r;
}

// Cuts every range into pieces of at most `msg` elements, in order.
inline Ranges cut(const Ranges& rs, uint64_t msg) {
  Ranges outv;
  for (const Range& r : rs) {
    for (const auto& [pb, pe] : pieces(r.count, msg)) outv.push_back({r.offset + pb, pe - pb});
  }
  return outv;
}

// An exchange with one send peer and one receive peer: phase j sends piece j of `sendR` (from
// buffer `sendBuf`) to `to`, then lets `onRecv(offset, count)` emit the step that receives piece
// j of `recvR` from `from`. Either side may be absent (peer < 0 or no ranges).
template <typename OnRecv>
void exchange(Writer& w, int to, Buffer sendBuf, const Ranges& sendR, int from, const Ranges& recvR,
              uint64_t msg, OnRecv onRecv) {
  const Ranges s = to >= 0 ? cut(sendR, msg) : Ranges{};
  const Ranges r = from >= 0 ? cut(recvR, msg) : Ranges{};
  const size_t phases = std::max(s.size(), r.size());
  for (size_t j = 0; j < phases; ++j) {
    if (j < s.size()) w.send(to, at(sendBuf, s[j].offset, s[j].count));
    if (j < r.size()) onRecv(r[j].offset, r[j].count);
  }
}

}  // namespace plexus::algo::detail
