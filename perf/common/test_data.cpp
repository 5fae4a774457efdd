// Test-data patterns, expected results and the element check (see test_data.hpp).
#include "common/test_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace plexus::perf {
namespace {

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Value in [-limit, limit] (signed) or [0, limit] (unsigned) from a hash.
int64_t spread(uint64_t h, int64_t limit, bool isSigned) {
  if (isSigned) return static_cast<int64_t>(h % static_cast<uint64_t>(2 * limit + 1)) - limit;
  return static_cast<int64_t>(h % static_cast<uint64_t>(limit + 1));
}

}  // namespace

PatternKind patternKind(bool reduces, ncclRedOp_t op) {
  if (!reduces) return PatternKind::kCopy;
  switch (op) {
    case ncclProd:
      return PatternKind::kProd;
    case ncclMax:
    case ncclMin:
      return PatternKind::kMinMax;
    default:
      return PatternKind::kSum;  // sum, avg
  }
}

Pattern::Pattern(const TypeInfo& type, PatternKind kind, int nranks, uint64_t iteration)
    : type_(type), kind_(kind), nranks_(std::max(nranks, 1)) {
  seed_ = mix64(iteration * 0x100000001b3ull + static_cast<uint64_t>(kind) * 131 +
                static_cast<uint64_t>(type.type));
  const int64_t limit = type.exactLimit;
  const int64_t n = nranks_;
  switch (kind) {
    case PatternKind::kSum: {
      // At most `limit` contributors per element, each at most limit / contributors in size.
      sparse_ = static_cast<int>(n <= limit ? 1 : ceilDiv(n, limit));
      int64_t contributors = ceilDiv(n, sparse_);
      amp_ = std::max<int64_t>(1, limit / contributors);
      break;
    }
    case PatternKind::kProd:
      twos_ = static_cast<int>(std::max<int64_t>(2, ceilDiv(n, type.maxPowerOfTwo)));
      break;
    default:
      amp_ = limit;
      break;
  }
}

int64_t Pattern::value(int rank, int block, size_t k) const {
  const uint64_t h = mix64(seed_ ^ mix64((static_cast<uint64_t>(rank) << 40) ^
                                         (static_cast<uint64_t>(block) << 20) ^ k));
  switch (kind_) {
    case PatternKind::kSum:
      if ((k + static_cast<size_t>(rank)) % static_cast<size_t>(sparse_) != 0) return 0;
      return spread(h, amp_, type_.isSigned);
    case PatternKind::kProd: {
      int64_t v = (k + static_cast<size_t>(rank) + static_cast<size_t>(block)) %
                              static_cast<size_t>(twos_) ==
                          0
                      ? 2
                      : 1;
      return (type_.isSigned && (h & 3) == 0) ? -v : v;
    }
    default:
      return spread(h, amp_, type_.isSigned);
  }
}

std::vector<unsigned char> inputTable(const Pattern& p, int rank, int block, size_t n) {
  const TypeInfo& t = p.type();
  std::vector<unsigned char> bytes(n * t.size);
  for (size_t k = 0; k < n; ++k) {
    int64_t v = p.value(rank, block, k);
    if (t.isFloat)
      encodeElement(t, static_cast<double>(v), bytes.data() + k * t.size);
    else
      encodeInteger(t, v, bytes.data() + k * t.size);
  }
  return bytes;
}

ExpectedTable expectedTable(const Pattern& p, const BlockSource& source, ncclRedOp_t op, size_t n) {
  const TypeInfo& t = p.type();
  const int nranks = p.nranks();
  const double u = t.isFloat ? std::ldexp(1.0, -t.precisionBits) : 0.0;
  ExpectedTable e;
  e.bytes.resize(n * t.size);
  e.value.resize(n);
  e.tolerance.assign(n, 0.0);
  for (size_t k = 0; k < n; ++k) {
    double value;
    if (!source.reduce) {
      value = static_cast<double>(p.value(source.source, source.block, k));
    } else {
      // Only the aggregate of `op` is formed: the data of one op may overflow another's (the
      // product of max/min data would), while its own stays exact by construction.
      int64_t sum = 0, absSum = 0, prod = 1;
      int64_t lo = p.value(0, source.block, k), hi = lo;
      for (int r = 0; r < nranks; ++r) {
        int64_t v = p.value(r, source.block, k);
        if (op == ncclProd) {
          prod *= v;
        } else if (op == ncclMax || op == ncclMin) {
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        } else {
          sum += v;
          absSum += v < 0 ? -v : v;
        }
      }
      switch (op) {
        case ncclProd:
          value = static_cast<double>(prod);
          break;
        case ncclMax:
          value = static_cast<double>(hi);
          break;
        case ncclMin:
          value = static_cast<double>(lo);
          break;
        case ncclAvg:
          if (t.isFloat) {
            value = static_cast<double>(sum) / nranks;
            e.tolerance[k] =
                (nranks + 2) * u * static_cast<double>(absSum) / nranks + nranks * t.denormMin;
          } else {
            value = static_cast<double>(sum / nranks);  // C++ division rounds toward zero
          }
          break;
        default:
          value = static_cast<double>(sum);
          break;
      }
    }
    e.value[k] = value;
    encodeElement(t, value, e.bytes.data() + k * t.size);
    // The direct byte compare is only valid when the expected value is exactly the encoded one.
    if (e.tolerance[k] != 0.0 || decodeElement(t, e.bytes.data() + k * t.size) != value)
      e.exact = false;
  }
  return e;
}

void fillRepeated(void* dst, size_t count, const std::vector<unsigned char>& table,
                  size_t typeSize) {
  if (count == 0 || table.empty()) return;
  auto* out = static_cast<unsigned char*>(dst);
  const size_t total = count * typeSize;
  const size_t period = table.size();
  size_t done = std::min(period, total);
  std::memcpy(out, table.data(), done);
  // Double the filled prefix until done (whole periods), then the remainder.
  while (done < total) {
    size_t chunk = std::min(done - done % period, total - done);
    std::memcpy(out + done, out, chunk);
    done += chunk;
  }
}

size_t checkBlock(const TypeInfo& type, const void* data, size_t count,
                  const ExpectedTable& expected, std::optional<Mismatch>* first) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  const size_t period = expected.value.size();
  if (count == 0 || period == 0) return 0;
  size_t wrong = 0;
  auto checkRange = [&](size_t begin, size_t end) {
    size_t k = begin % period;
    for (size_t i = begin; i < end; ++i) {
      double got = decodeElement(type, bytes + i * type.size);
      double want = expected.value[k];
      if (!(std::fabs(got - want) <= expected.tolerance[k])) {
        ++wrong;
        if (first != nullptr && !*first) *first = Mismatch{i, got, want};
      }
      if (++k == period) k = 0;
    }
  };
  if (!expected.exact) {
    checkRange(0, count);
    return wrong;
  }
  // Fast path: compare whole periods bytewise; look at elements only where bytes differ (so
  // that -0 and +0, which compare equal as values, are not counted).
  for (size_t begin = 0; begin < count; begin += period) {
    size_t n = std::min(period, count - begin);
    if (std::memcmp(bytes + begin * type.size, expected.bytes.data(), n * type.size) != 0)
      checkRange(begin, begin + n);
  }
  return wrong;
}

size_t countChanged(const void* data, size_t count, const std::vector<unsigned char>& table,
                    size_t typeSize) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  const size_t periodElems = table.size() / typeSize;
  if (count == 0 || periodElems == 0) return 0;
  size_t changed = 0;
  for (size_t begin = 0; begin < count; begin += periodElems) {
    size_t n = std::min(periodElems, count - begin);
    const unsigned char* p = bytes + begin * typeSize;
    if (std::memcmp(p, table.data(), n * typeSize) == 0) continue;
    for (size_t i = 0; i < n; ++i)
      if (std::memcmp(p + i * typeSize, table.data() + i * typeSize, typeSize) != 0) ++changed;
  }
  return changed;
}

}  // namespace plexus::perf
