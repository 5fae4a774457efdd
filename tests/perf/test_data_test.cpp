// Test data and result checking of the perf tools, without a communicator: every collective is
// computed here the plain way (reducing in rank order and rounding to the type after each step,
// as a ring does; avg as NCCL's pre-multiplication by 1/n), from the inputs the tools generate,
// and the tools' check must accept it, and reject a single corrupted element.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "common/collectives.hpp"
#include "common/datatypes.hpp"
#include "common/test_data.hpp"

namespace plexus::perf {
namespace {

using Bytes = std::vector<unsigned char>;

// a op b in the type's arithmetic, rounded to the type.
void combine(const TypeInfo& t, ncclRedOp_t op, const unsigned char* a, const unsigned char* b,
             unsigned char* out) {
  double x = decodeElement(t, a), y = decodeElement(t, b), r;
  switch (op) {
    case ncclProd:
      r = x * y;
      break;
    case ncclMax:
      r = std::max(x, y);
      break;
    case ncclMin:
      r = std::min(x, y);
      break;
    default:
      r = x + y;
      break;  // sum, and the sums of avg
  }
  if (t.isFloat)
    encodeElement(t, r, out);
  else
    encodeInteger(t, static_cast<int64_t>(r), out);
}

// Reduction of element `idx` of every rank's send buffer, the way an implementation would.
void reduceElement(const TypeInfo& t, ncclRedOp_t op, const std::vector<Bytes>& in, size_t idx,
                   unsigned char* out) {
  const size_t n = in.size(), esz = t.size;
  unsigned char acc[8], term[8], scale[8];
  if (op == ncclAvg && t.isFloat) encodeElement(t, 1.0 / static_cast<double>(n), scale);
  for (size_t r = 0; r < n; ++r) {
    const unsigned char* x = in[r].data() + idx * esz;
    if (op == ncclAvg && t.isFloat) {
      encodeElement(t, decodeElement(t, x) * decodeElement(t, scale), term);
      x = term;
    }
    if (r == 0)
      std::memcpy(acc, x, esz);
    else
      combine(t, op, acc, x, acc);
  }
  if (op == ncclAvg && !t.isFloat) {
    int64_t s = static_cast<int64_t>(decodeElement(t, acc));
    encodeInteger(t, s / static_cast<int64_t>(n), acc);
  }
  std::memcpy(out, acc, esz);
}

// The reference result of `coll` on rank `me` (empty when the rank has no result).
Bytes reference(const Collective& coll, const TypeInfo& t, ncclRedOp_t op,
                const std::vector<Bytes>& in, size_t count, int me, int root) {
  const int n = static_cast<int>(in.size());
  const size_t esz = t.size;
  const std::string name = coll.name;
  auto copy = [&](Bytes& out, size_t dstElem, int src, size_t srcElem) {
    if (count == 0) return;
    std::memcpy(out.data() + dstElem * esz, in[static_cast<size_t>(src)].data() + srcElem * esz,
                count * esz);
  };
  Bytes out;
  if (name == "all_reduce" || (name == "reduce" && me == root)) {
    out.resize(count * esz);
    for (size_t i = 0; i < count; ++i) reduceElement(t, op, in, i, out.data() + i * esz);
  } else if (name == "reduce_scatter") {
    out.resize(count * esz);
    for (size_t i = 0; i < count; ++i)
      reduceElement(t, op, in, static_cast<size_t>(me) * count + i, out.data() + i * esz);
  } else if (name == "all_gather" || (name == "gather" && me == root)) {
    out.resize(static_cast<size_t>(n) * count * esz);
    for (int b = 0; b < n; ++b) copy(out, static_cast<size_t>(b) * count, b, 0);
  } else if (name == "broadcast") {
    out.resize(count * esz);
    copy(out, 0, root, 0);
  } else if (name == "sendrecv") {
    out.resize(count * esz);
    copy(out, 0, (me + n - 1) % n, 0);
  } else if (name == "alltoall") {
    out.resize(static_cast<size_t>(n) * count * esz);
    for (int b = 0; b < n; ++b)
      copy(out, static_cast<size_t>(b) * count, b, static_cast<size_t>(me) * count);
  } else if (name == "scatter") {
    out.resize(count * esz);
    copy(out, 0, root, static_cast<size_t>(me) * count);
  }
  return out;
}

// The send buffers the tool would fill for every rank.
std::vector<Bytes> inputs(const Collective& coll, const Pattern& p, int n, size_t count, int root) {
  std::vector<Bytes> in;
  const size_t esz = p.type().size;
  const size_t period = std::min(count, kPatternPeriod);
  for (int r = 0; r < n; ++r) {
    RankLayout l = coll.layout(r, n, root);
    Bytes buf(static_cast<size_t>(l.sendBlocks) * count * esz + 1);
    for (int b = 0; b < l.sendBlocks; ++b)
      fillRepeated(buf.data() + static_cast<size_t>(b) * count * esz, count,
                   inputTable(p, r, b, period), esz);
    in.push_back(std::move(buf));
  }
  return in;
}

// Wrong elements the tool's check finds in `out` on rank `me`.
size_t check(const Collective& coll, const Pattern& p, ncclRedOp_t op, const Bytes& out,
             size_t count, int me, int root) {
  RankLayout l = coll.layout(me, p.nranks(), root);
  size_t wrong = 0;
  std::optional<Mismatch> first;
  for (size_t j = 0; j < l.recv.size(); ++j)
    wrong += checkBlock(p.type(), out.data() + j * count * p.type().size, count,
                        expectedTable(p, l.recv[j], op, std::min(count, kPatternPeriod)), &first);
  return wrong;
}

void exercise(const Collective& coll, const TypeInfo& t, ncclRedOp_t op, int n, size_t count,
              int root, uint64_t iteration) {
  SCOPED_TRACE(std::string(coll.name) + " " + t.name + " " + opName(op) +
               " n=" + std::to_string(n) + " count=" + std::to_string(count) +
               " root=" + std::to_string(root));
  Pattern p(t, patternKind(coll.hasOp, op), n, iteration);
  std::vector<Bytes> in = inputs(coll, p, n, count, root);
  std::set<int> ranks{0, n - 1};
  if (root >= 0) ranks.insert(root);
  for (int me : ranks) {
    Bytes out = reference(coll, t, op, in, count, me, root);
    ASSERT_EQ(coll.layout(me, n, root).recv.size() * count * t.size, out.size());
    EXPECT_EQ(check(coll, p, op, out, count, me, root), 0u) << "rank " << me;
    if (out.empty()) continue;
    // One element corrupted: exactly one wrong. Integers: the top byte changes. Floats: a value
    // far outside any tolerance (-16 (|v| + 4), at least 48 away; the widest avg tolerance,
    // fp8 at one rank, is 3).
    size_t victim = (out.size() / t.size) * 2 / 3;
    unsigned char* e = out.data() + victim * t.size;
    if (t.isFloat)
      encodeElement(t, -16.0 * (std::fabs(decodeElement(t, e)) + 4.0), e);
    else
      e[t.size - 1] ^= 0x40;
    EXPECT_EQ(check(coll, p, op, out, count, me, root), 1u) << "rank " << me;
  }
}

const Collective* const kAll[] = {&kAllReduce, &kAllGather, &kReduceScatter, &kBroadcast, &kReduce,
                                  &kSendRecv,  &kAlltoAll,  &kGather,        &kScatter};

TEST(PerfTestData, EveryCollectiveTypeAndOpChecksExactly) {
  for (const Collective* coll : kAll)
    for (const TypeInfo& t : allTypes())
      for (ncclRedOp_t op : coll->hasOp ? allOps() : std::vector<ncclRedOp_t>{ncclSum})
        for (int n : {1, 2, 3, 5, 8})
          for (size_t count : {size_t{0}, size_t{1}, size_t{7}, kPatternPeriod + 13}) {
            int root = coll->hasRoot ? n / 2 : -1;
            exercise(*coll, t, op, n, count, root, 1);
            if (HasFatalFailure()) return;
          }
}

// Many ranks: the sum/avg data must thin out (at most L contributors per element) and products
// must keep their powers of two bounded, or narrow types would overflow.
TEST(PerfTestData, ManyRanksStayExactInNarrowTypes) {
  for (ncclDataType_t nt : {ncclInt8, ncclUint8, ncclFloat8e4m3, ncclFloat8e5m2, ncclFloat16,
                            ncclBfloat16, ncclInt32}) {
    for (ncclRedOp_t op : allOps()) {
      exercise(kAllReduce, typeInfo(nt), op, 300, 600, -1, 2);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(PerfTestData, PatternBoundsAndSparsity) {
  const TypeInfo& e4m3 = typeInfo(ncclFloat8e4m3);
  Pattern few(e4m3, PatternKind::kSum, 4, 1);
  EXPECT_EQ(few.sparseStride(), 1);
  EXPECT_EQ(few.amplitude(), 4);  // 16 / 4 ranks
  Pattern many(e4m3, PatternKind::kSum, 100, 1);
  EXPECT_EQ(many.sparseStride(), 7);  // ceil(100 / 16)
  EXPECT_EQ(many.amplitude(), 1);     // 16 / ceil(100 / 7) = 16 / 15
  for (size_t k = 0; k < 50; ++k) {
    int64_t absSum = 0;
    for (int r = 0; r < 100; ++r) absSum += std::abs(many.value(r, 0, k));
    EXPECT_LE(absSum, e4m3.exactLimit);
  }
  const TypeInfo& i8 = typeInfo(ncclInt8);
  Pattern prod(i8, PatternKind::kProd, 40, 1);
  for (size_t k = 0; k < 50; ++k) {
    int twos = 0;
    for (int r = 0; r < 40; ++r) {
      int64_t v = prod.value(r, 3, k);
      ASSERT_TRUE(v == 1 || v == -1 || v == 2 || v == -2) << v;
      twos += (v == 2 || v == -2);
    }
    EXPECT_LE(twos, i8.maxPowerOfTwo);
  }
  const TypeInfo& u32 = typeInfo(ncclUint32);
  Pattern copy(u32, PatternKind::kCopy, 4, 1);
  for (size_t k = 0; k < 100; ++k) EXPECT_GE(copy.value(2, 1, k), 0);
}

TEST(PerfTestData, DataDiffersBetweenRanksBlocksAndIterations) {
  for (const TypeInfo& t : allTypes()) {
    Pattern a(t, PatternKind::kCopy, 4, 1), b(t, PatternKind::kCopy, 4, 2);
    Bytes r0 = inputTable(a, 0, 0, 256), r1 = inputTable(a, 1, 0, 256);
    Bytes blk1 = inputTable(a, 0, 1, 256), it2 = inputTable(b, 0, 0, 256);
    EXPECT_NE(r0, r1) << t.name;
    EXPECT_NE(r0, blk1) << t.name;
    EXPECT_NE(r0, it2) << t.name;
    EXPECT_EQ(r0, inputTable(a, 0, 0, 256)) << t.name << ": deterministic";
  }
}

TEST(PerfTestData, FillRepeatsThePeriod) {
  Bytes table = {1, 2, 3, 4, 5, 6};  // 3 elements of 2 bytes
  for (size_t count : {0, 1, 2, 3, 4, 7, 100, 1001}) {
    Bytes buf(count * 2 + 2, 0xEE);
    fillRepeated(buf.data(), count, table, 2);
    for (size_t i = 0; i < count * 2; ++i) ASSERT_EQ(buf[i], table[i % 6]) << count << " " << i;
    EXPECT_EQ(buf[count * 2], 0xEE);  // nothing past the end
    EXPECT_EQ(countChanged(buf.data(), count, table, 2), 0u);
    if (count > 5) {
      buf[9] ^= 1;  // element 4
      buf[2 * count - 1] ^= 1;
      EXPECT_EQ(countChanged(buf.data(), count, table, 2), 2u);
    }
  }
}

TEST(PerfTestData, NegativeZeroMatchesZeroAndNanNeverMatches) {
  const TypeInfo& f = typeInfo(ncclFloat32);
  ExpectedTable e;
  e.bytes.resize(8);
  e.value = {0.0, 1.0};
  e.tolerance = {0.0, 0.0};
  encodeElement(f, 0.0, e.bytes.data());
  encodeElement(f, 1.0, e.bytes.data() + 4);
  float got[4] = {-0.0f, 1.0f, 0.0f, NAN};
  std::optional<Mismatch> first;
  EXPECT_EQ(checkBlock(f, got, 4, e, &first), 1u);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->index, 3u);
}

TEST(PerfTestData, FloatAverageToleranceDependsOnTypeAndRanks) {
  for (ncclDataType_t nt : {ncclFloat32, ncclFloat16, ncclFloat8e5m2}) {
    const TypeInfo& t = typeInfo(nt);
    for (int n : {3, 7}) {
      Pattern p(t, PatternKind::kSum, n, 1);
      ExpectedTable e = expectedTable(p, BlockSource{true, 0, 0}, ncclAvg, 64);
      EXPECT_FALSE(e.exact);
      for (size_t k = 0; k < 64; ++k) {
        double absSum = 0;
        for (int r = 0; r < n; ++r) absSum += std::abs(static_cast<double>(p.value(r, 0, k)));
        double u = std::ldexp(1.0, -t.precisionBits);
        EXPECT_DOUBLE_EQ(e.tolerance[k], (n + 2) * u * absSum / n + n * t.denormMin);
      }
    }
  }
  // Exact everywhere else.
  Pattern p(typeInfo(ncclFloat16), PatternKind::kSum, 5, 1);
  EXPECT_TRUE(expectedTable(p, BlockSource{true, 0, 0}, ncclMax, 64).exact);
  EXPECT_TRUE(expectedTable(p, BlockSource{false, 3, 0}, ncclSum, 64).exact);
  Pattern i(typeInfo(ncclInt32), PatternKind::kSum, 5, 1);
  EXPECT_TRUE(expectedTable(i, BlockSource{true, 0, 0}, ncclAvg, 64).exact);
}

}  // namespace
}  // namespace plexus::perf
