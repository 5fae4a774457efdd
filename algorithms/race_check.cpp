// Cross-channel race check of the verifier (symbolic.hpp): the channels of a rank run
// concurrently with nothing ordering them, so an element that one channel writes must not be
// read or written by another. Checked per placement (in-place aliasing changes what overlaps) on
// merged address spans, before the symbolic run.
#include <algorithm>
#include <cinttypes>

#include "algorithms/symbolic.hpp"
#include "base/error.hpp"

namespace plexus::algo::sym {
namespace {

struct Span {
  uint64_t begin = 0, end = 0;
};

void merge(std::vector<Span>& v) {
  std::sort(v.begin(), v.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  size_t out = 0;
  for (const Span& s : v) {
    if (out > 0 && s.begin <= v[out - 1].end) {
      v[out - 1].end = std::max(v[out - 1].end, s.end);
    } else {
      v[out++] = s;
    }
  }
  v.resize(out);
}

// First overlap of two merged span lists as [begin, end); false when disjoint.
bool firstOverlap(const std::vector<Span>& a, const std::vector<Span>& b, Span& hit) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const uint64_t lo = std::max(a[i].begin, b[j].begin);
    const uint64_t hi = std::min(a[i].end, b[j].end);
    if (lo < hi) {
      hit = {lo, hi};
      return true;
    }
    if (a[i].end < b[j].end)
      ++i;
    else
      ++j;
  }
  return false;
}

struct Footprint {
  std::vector<Span> reads, writes;
};

uint64_t address(const Layout& l, Buffer b, uint32_t off) {
  return l.base[static_cast<size_t>(b)] + off;
}

Footprint footprint(const Program& p, const Proc& proc, const Layout& l) {
  Footprint f;
  for (uint32_t i = proc.begin; i < proc.end; ++i) {
    const CStep& s = p.steps[i];
    if (s.count == 0) continue;
    if (stepUsesSrc(s.kind)) {
      const uint64_t a = address(l, s.srcBuf, s.srcOff);
      f.reads.push_back({a, a + s.count});
    }
    if (stepUsesSrc2(s.kind)) {
      const uint64_t a = address(l, s.src2Buf, s.src2Off);
      f.reads.push_back({a, a + s.count});
    }
    if (stepUsesDst(s.kind)) {
      const uint64_t a = address(l, s.dstBuf, s.dstOff);
      f.writes.push_back({a, a + s.count});
    }
  }
  merge(f.reads);
  merge(f.writes);
  return f;
}

// The first step of `proc` that writes (or reads) address x, and the slice it does it with.
uint32_t stepTouching(const Program& p, const Proc& proc, const Layout& l, uint64_t x, bool write,
                      Buffer& buf, uint64_t& begin, uint64_t& end) {
  for (uint32_t i = proc.begin; i < proc.end; ++i) {
    const CStep& s = p.steps[i];
    auto covers = [&](Buffer b, uint32_t o) {
      const uint64_t a = address(l, b, o);
      if (x < a || x >= a + s.count) return false;
      buf = b;
      begin = a;
      end = a + s.count;
      return true;
    };
    if (write) {
      if (stepUsesDst(s.kind) && covers(s.dstBuf, s.dstOff)) return i;
    } else {
      if (stepUsesSrc(s.kind) && covers(s.srcBuf, s.srcOff)) return i;
      if (stepUsesSrc2(s.kind) && covers(s.src2Buf, s.src2Off)) return i;
    }
  }
  return proc.begin;
}

}  // namespace

bool findChannelRace(const Program& p, const std::vector<Layout>& layouts, std::string& error) {
  size_t first = 0;
  while (first < p.procs.size()) {
    const int rank = p.procs[first].rank;
    size_t last = first;
    while (last < p.procs.size() && p.procs[last].rank == rank) ++last;
    if (last - first > 1) {
      const Layout& l = layouts[static_cast<size_t>(rank)];
      std::vector<Footprint> fp;
      for (size_t i = first; i < last; ++i) fp.push_back(footprint(p, p.procs[i], l));
      for (size_t a = 0; a < fp.size(); ++a) {
        for (size_t b = a + 1; b < fp.size(); ++b) {
          // a writes what b writes or reads, or a reads what b writes.
          struct Pair {
            const std::vector<Span>* x;
            const std::vector<Span>* y;
            bool xWrites, yWrites;
          };
          const Pair pairs[] = {{&fp[a].writes, &fp[b].writes, true, true},
                                {&fp[a].writes, &fp[b].reads, true, false},
                                {&fp[a].reads, &fp[b].writes, false, true}};
          for (const Pair& pr : pairs) {
            Span hit;
            if (!firstOverlap(*pr.x, *pr.y, hit)) continue;
            const Proc& pa = p.procs[first + a];
            const Proc& pb = p.procs[first + b];
            Buffer bufA = Buffer::kInput, bufB = Buffer::kInput;
            uint64_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
            const uint32_t sa = stepTouching(p, pa, l, hit.begin, pr.xWrites, bufA, a0, a1);
            const uint32_t sb = stepTouching(p, pb, l, hit.begin, pr.yWrites, bufB, b0, b1);
            const uint64_t end = std::min({hit.end, a1, b1});
            const uint64_t base = l.base[static_cast<size_t>(bufA)];
            error = formatString("%s %s %s[%" PRIu64 ",%" PRIu64
                                 ") that %s also %s; channels run concurrently, "
                                 "so this is a race",
                                 p.where(sa).c_str(), pr.xWrites ? "writes" : "reads",
                                 bufferName(bufA), hit.begin - base, end - base,
                                 p.where(sb).c_str(), pr.yWrites ? "writes" : "reads");
            return true;
          }
        }
      }
    }
    first = last;
  }
  return false;
}

}  // namespace plexus::algo::sym
