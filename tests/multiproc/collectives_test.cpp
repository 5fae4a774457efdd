// The correctness matrix, on every transport of the list (transport_list.cpp): every collective x
// datatype x op, in-place and out-of-place, at several counts, on 1 to 8 rank processes: exact
// integer results, exact or 1-ulp float results (see collective_check.hpp), guard elements around
// outputs untouched.
//
// Collectives.EveryTypeOpAndPlacement (counts 0, 1, 7, 1013): all of it, on every transport, at 2,
// 3, 4, 5 and 8 ranks (1 rank uses no transport: it runs once, with the first transport).
// LargeCollectives.SeveralMegabytes (count 1M+17, small slots): float32, int8 and bfloat16, sum and
// max. On a Coverage::kFull transport at 2, 3, 4, 5 and 8 ranks. On a Coverage::kSubset
// one (the plugins, and tcp with 4 sockets, whose only difference from tcp is the sockets layer)
// at 2 and 3 ranks, all-reduce in all those datatypes and ops and every other collective in one
// datatype per op (kSubsetPairs), because of CI time: this part costs 5 to 22 s per case
// on the 2-core CI machine (host-side reference data, and polling progress threads sharing the
// cores), and all of it on the 5 extra setups would add about 4 minutes, more than the budget of
// these tests; the data path of a transport does not depend on the datatype or the op.
// The "mapped" setup (Coverage::kExecutor: collectives on the mapped executor, the shared step
// interpreter, over windows the rank processes map) runs the small part at 2, 3, 4, 5 and 8 ranks
// and all of the megabyte part at 2 and 3 ranks (13 to 22 s in all on 2 cores).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "kernels/datatype.hpp"
#include "tests/multiproc/collective_check.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

constexpr size_t kGuard = 16;
constexpr unsigned char kFill = 0xA5;

struct Failures {
  int count = 0;
  void report(const char* what, const std::string& detail) {
    if (count++ < 20) std::fprintf(stderr, "%s\n%s", what, detail.c_str());
  }
};

// A buffer with guard bytes after `elems` elements; data() is the user pointer.
struct Guarded {
  std::vector<unsigned char> bytes;
  size_t esz;
  size_t elems;
  Guarded(size_t n, size_t e) : bytes((n + kGuard) * e, kFill), esz(e), elems(n) {}
  unsigned char* data() { return bytes.data(); }
  bool guardIntact() const {
    for (size_t i = elems * esz; i < bytes.size(); ++i)
      if (bytes[i] != kFill) return false;
    return true;
  }
  bool allUntouched() const {
    for (unsigned char b : bytes)
      if (b != kFill) return false;
    return true;
  }
};

ncclDataType_t nt(DataType t) {
  return static_cast<ncclDataType_t>(t);
}
ncclRedOp_t no(RedOp o) {
  return static_cast<ncclRedOp_t>(o);
}

// The subset (Coverage::kSubset): other collectives than all-reduce run only these datatypes, the
// reductions each with its one op.
struct TypeOp {
  DataType type;
  RedOp op;
};
constexpr TypeOp kSubsetPairs[] = {{DataType::kFloat32, RedOp::kSum},
                                   {DataType::kInt32, RedOp::kProd},
                                   {DataType::kBfloat16, RedOp::kMax},
                                   {DataType::kInt8, RedOp::kMin},
                                   {DataType::kFloat16, RedOp::kAvg}};

// Which cases of the matrix a run checks.
struct Scope {
  bool large = false;   // megabyte counts: fewer datatypes and ops, root 0 only
  bool subset = false;  // other collectives than all-reduce: kSubsetPairs only
  bool typeWanted(DataType t) const {
    if (!large) return true;
    return t == DataType::kFloat32 || t == DataType::kInt8 || t == DataType::kBfloat16;
  }
  bool opWanted(RedOp op) const { return !large || op == RedOp::kSum || op == RedOp::kMax; }
  // Collectives other than all-reduce: one datatype per op in the representative subset.
  bool otherWanted(DataType t) const {
    if (!subset) return true;
    for (const TypeOp& p : kSubsetPairs)
      if (p.type == t) return true;
    return false;
  }
  bool otherWanted(DataType t, RedOp op) const {
    if (!subset) return true;
    for (const TypeOp& p : kSubsetPairs)
      if (p.type == t && p.op == op) return true;
    return false;
  }
};

int runMatrix(int rank, int n, const ncclUniqueId& id, const std::vector<size_t>& counts,
              const Scope& scope) {
  const bool large = scope.large;
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  Failures f;
  uint64_t seed = 1;
  char label[256];
  for (int ti = 0; ti < kNumDataTypes; ++ti) {
    const DataType t = static_cast<DataType>(ti);
    if (!scope.typeWanted(t)) continue;
    const size_t esz = dataTypeSize(t);
    for (size_t baseCount : counts) {
      const size_t count = baseCount;
      for (int inplace = 0; inplace < 2; ++inplace) {
        // --- all-reduce, reduce-scatter and reduce, every op
        for (int oi = 0; oi < kNumRedOps; ++oi) {
          const RedOp op = static_cast<RedOp>(oi);
          if (!scope.opWanted(op)) continue;
          ++seed;
          {  // all-reduce
            Guarded out(count, esz);
            std::vector<unsigned char> in(count * esz + 1);
            fillInput(inplace ? out.data() : in.data(), t, op, rank, n, count, seed);
            const void* send = inplace ? out.data() : in.data();
            RANK_NCCL(ncclAllReduce(send, out.data(), count, nt(t), no(op), comm, nullptr));
            auto exp = expectedReduction(t, op, n, count, seed);
            std::snprintf(label, sizeof(label), "allreduce %s %s n=%d count=%zu %s",
                          dataTypeName(t), redOpName(op), n, count,
                          inplace ? "in-place" : "out-of-place");
            auto d = compareResult(out.data(), exp.data(), t, op, count, true);
            if (!d.empty() || !out.guardIntact())
              f.report(label, d.empty() ? "guard overwritten\n" : d);
          }
          if (!scope.otherWanted(t, op)) continue;
          ++seed;
          {  // reduce-scatter: input n*blk, output blk (large runs keep the input size)
            const size_t blk = large ? baseCount / static_cast<size_t>(n) : baseCount;
            Guarded big(blk * static_cast<size_t>(n), esz);
            std::vector<unsigned char> in(blk * static_cast<size_t>(n) * esz + 1);
            Guarded out(blk, esz);
            fillInput(inplace ? big.data() : in.data(), t, op, rank, n,
                      blk * static_cast<size_t>(n), seed);
            const void* send = inplace ? big.data() : in.data();
            void* recv = inplace ? big.data() + static_cast<size_t>(rank) * blk * esz : out.data();
            RANK_NCCL(ncclReduceScatter(send, recv, blk, nt(t), no(op), comm, nullptr));
            auto exp = expectedReduction(t, op, n, blk, seed, static_cast<size_t>(rank) * blk);
            std::snprintf(label, sizeof(label), "reducescatter %s %s n=%d blk=%zu %s",
                          dataTypeName(t), redOpName(op), n, blk,
                          inplace ? "in-place" : "out-of-place");
            auto d = compareResult(recv, exp.data(), t, op, blk, true);
            bool guard = inplace ? big.guardIntact() : out.guardIntact();
            if (!d.empty() || !guard) f.report(label, d.empty() ? "guard overwritten\n" : d);
          }
          for (int root : {0, n - 1}) {
            if (large && root != 0) continue;
            ++seed;
            Guarded out(count, esz);
            std::vector<unsigned char> in(count * esz + 1);
            fillInput(inplace ? out.data() : in.data(), t, op, rank, n, count, seed);
            const void* send = inplace ? out.data() : in.data();
            RANK_NCCL(ncclReduce(send, out.data(), count, nt(t), no(op), root, comm, nullptr));
            std::snprintf(label, sizeof(label), "reduce %s %s root=%d n=%d count=%zu %s",
                          dataTypeName(t), redOpName(op), root, n, count,
                          inplace ? "in-place" : "out-of-place");
            if (rank == root) {
              auto exp = expectedReduction(t, op, n, count, seed);
              auto d = compareResult(out.data(), exp.data(), t, op, count, true);
              if (!d.empty() || !out.guardIntact())
                f.report(label, d.empty() ? "guard overwritten\n" : d);
            } else if (!inplace && !out.allUntouched()) {
              f.report(label, "a non-root rank's receive buffer was written\n");
            }
            if (n == 1 || root == 0) break;
          }
        }
        if (!scope.otherWanted(t)) continue;
        // --- all-gather: input blk, output n*blk (large runs keep the output size)
        ++seed;
        {
          const size_t blk = large ? baseCount / static_cast<size_t>(n) : baseCount;
          Guarded out(blk * static_cast<size_t>(n), esz);
          std::vector<unsigned char> in(blk * esz + 1);
          unsigned char* mine =
              inplace ? out.data() + static_cast<size_t>(rank) * blk * esz : in.data();
          fillBytes(mine, blk * esz, rank, seed);
          RANK_NCCL(ncclAllGather(mine, out.data(), blk, nt(t), comm, nullptr));
          std::vector<unsigned char> exp(blk * esz);
          std::snprintf(label, sizeof(label), "allgather %s n=%d blk=%zu %s", dataTypeName(t), n,
                        blk, inplace ? "in-place" : "out-of-place");
          for (int r = 0; r < n; ++r) {
            fillBytes(exp.data(), exp.size(), r, seed);
            if (!exp.empty() && std::memcmp(out.data() + static_cast<size_t>(r) * blk * esz,
                                            exp.data(), exp.size()) != 0)
              f.report(label, "block of rank " + std::to_string(r) + " wrong\n");
          }
          if (!out.guardIntact()) f.report(label, "guard overwritten\n");
        }
        // --- broadcast
        for (int root : {0, n - 1}) {
          ++seed;
          Guarded out(count, esz);
          std::vector<unsigned char> in(count * esz + 1);
          unsigned char* src = inplace ? out.data() : in.data();
          if (rank == root) fillBytes(src, count * esz, root, seed);
          RANK_NCCL(ncclBroadcast(src, out.data(), count, nt(t), root, comm, nullptr));
          std::vector<unsigned char> exp(count * esz);
          fillBytes(exp.data(), exp.size(), root, seed);
          std::snprintf(label, sizeof(label), "broadcast %s root=%d n=%d count=%zu %s",
                        dataTypeName(t), root, n, count, inplace ? "in-place" : "out-of-place");
          if ((!exp.empty() && std::memcmp(out.data(), exp.data(), exp.size()) != 0) ||
              !out.guardIntact())
            f.report(label, "wrong data or guard overwritten\n");
          if (n == 1 || large) break;
        }
      }
    }
  }
  RANK_NCCL(ncclCommFinalize(comm));
  RANK_NCCL(ncclCommDestroy(comm));
  if (f.count > 0) std::fprintf(stderr, "rank %d: %d failed checks\n", rank, f.count);
  return f.count == 0 ? 0 : 1;
}

struct MatrixCase {
  TransportSetup transport;
  int nranks;
};

void PrintTo(const MatrixCase& c, std::ostream* os) {
  *os << c.nranks << " ranks over " << c.transport.name;
}

std::string caseName(const ::testing::TestParamInfo<MatrixCase>& info) {
  return std::to_string(info.param.nranks) + "ranks_" + info.param.transport.name;
}

void runCase(const MatrixCase& c, RunOptions o, const std::vector<size_t>& counts,
             const Scope& scope) {
  o.timeoutSeconds = 300;
  auto out = runRanks(
      c.nranks,
      [&](int r, int n, const ncclUniqueId& id) { return runMatrix(r, n, id, counts, scope); }, o);
  EXPECT_EQ(describeFailures(out), "") << "transport " << c.transport.name;
}

class Collectives : public OnEveryTransportT<MatrixCase> {};

TEST_P(Collectives, EveryTypeOpAndPlacement) {
  runCase(GetParam(), optionsFor(transport(), 60), {0, 1, 7, 1013}, Scope{});
}

std::vector<MatrixCase> smallCases() {
  std::vector<MatrixCase> cases = {{transportList().front(), 1}};
  for (const TransportSetup& t : transportList())
    for (int n : {2, 3, 4, 5, 8}) cases.push_back({t, n});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Ranks, Collectives, ::testing::ValuesIn(smallCases()), caseName);

class LargeCollectives : public OnEveryTransportT<MatrixCase> {};

TEST_P(LargeCollectives, SeveralMegabytes) {
  RunOptions o = optionsFor(transport(), 60);
  // Small slots so that megabyte messages take many pieces and many pipeline iterations; results
  // written with non-temporal stores (the path of operations larger than the cache).
  o.env["PLEXUS_SLOT_SIZE"] = "64K";
  o.env["PLEXUS_SLOTS"] = "4";
  o.env["PLEXUS_NT_STORE_MIN"] = "1M";
  Scope scope;
  scope.large = true;
  scope.subset = transport().coverage == Coverage::kSubset;
  runCase(GetParam(), o, {(1u << 20) + 17}, scope);
}

std::vector<MatrixCase> largeCases() {
  std::vector<MatrixCase> cases = {{transportList().front(), 1}};
  for (const TransportSetup& t : transportList()) {
    const bool full = t.coverage == Coverage::kFull;
    for (int n : full ? std::vector<int>{2, 3, 4, 5, 8} : std::vector<int>{2, 3})
      cases.push_back({t, n});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Ranks, LargeCollectives, ::testing::ValuesIn(largeCases()), caseName);

}  // namespace
}  // namespace plexus::testing
