// Reproducible mode on real bytes (PLEXUS_REPRODUCIBLE=1, algorithms/canonical.hpp): the same
// random fp32, fp64, fp16, bf16 and fp8 inputs, all-reduced, reduce-scattered and reduced with
// every algorithm the mode offers forced (and the tuner's own choice), on 1, 2 and 4 channels,
// over shm, tcp and two fake hosts (PLEXUS_HOSTID), at 1 to 5 ranks, give exactly the bits
// (memcmp) of a reference the test computes in the canonical order with the same binary kernels
// (reduceBuffers; AVG: the canonical sum, then one division). And the default mode's ring
// all-reduce gives other bits for at least one element, so the identity is not an accident.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "algorithms/canonical.hpp"
#include "algorithms/registry.hpp"
#include "kernels/datatype.hpp"
#include "kernels/float_convert.hpp"
#include "kernels/reduce.hpp"
#include "plexus/plexus.hpp"
#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

using algo::Collective;
using Bytes = std::vector<unsigned char>;

ncclDataType_t nt(DataType t) {
  return static_cast<ncclDataType_t>(t);
}
ncclRedOp_t no(RedOp o) {
  return static_cast<ncclRedOp_t>(o);
}

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Rank `rank`'s input element i: a value of either sign over 2^-6 .. 2^6 (so that rounding in
// different orders differs, with no overflow in any type), encoded in the type.
void putValue(unsigned char* p, DataType t, uint64_t seed, int rank, size_t i) {
  const uint64_t h = mix(seed ^ mix(static_cast<uint64_t>(rank) * 1000003u + i));
  const double mant = 1.0 + static_cast<double>(h & 0xfffff) / double(1 << 20);
  const int exp = static_cast<int>((h >> 20) % 13) - 6;
  const double v = ((h >> 40) & 1 ? -1.0 : 1.0) * std::ldexp(mant, exp);
  const float f = static_cast<float>(v);
  switch (t) {
    case DataType::kFloat64:
      std::memcpy(p, &v, 8);
      break;
    case DataType::kFloat32:
      std::memcpy(p, &f, 4);
      break;
    case DataType::kFloat16: {
      const uint16_t x = floatToHalf(f);
      std::memcpy(p, &x, 2);
      break;
    }
    case DataType::kBfloat16: {
      const uint16_t x = floatToBf16(f);
      std::memcpy(p, &x, 2);
      break;
    }
    default:
      *p = floatToFp8E5M2(f);
      break;
  }
}

Bytes inputOf(DataType t, uint64_t seed, int rank, size_t elems) {
  const size_t esz = dataTypeSize(t);
  Bytes b(elems * esz);
  for (size_t i = 0; i < elems; ++i) putValue(b.data() + i * esz, t, seed, rank, i);
  return b;
}

// Elements [first, first + count) of every rank's input combined in the canonical tree with the
// library's binary kernel; AVG then divides once.
Bytes canonicalReference(DataType t, RedOp op, int n, size_t count, uint64_t seed, size_t first) {
  const size_t esz = dataTypeSize(t);
  std::function<Bytes(int, int)> tree = [&](int lo, int hi) {
    if (hi - lo == 1) {
      const Bytes all = inputOf(t, seed, lo, first + count);
      return Bytes(all.begin() + static_cast<std::ptrdiff_t>(first * esz), all.end());
    }
    const int mid = algo::canonicalSplit(lo, hi);
    Bytes a = tree(lo, mid);
    const Bytes b = tree(mid, hi);
    reduceBuffers(t, op, a.data(), a.data(), b.data(), count);
    return a;
  };
  Bytes r = tree(0, n);
  if (op == RedOp::kAvg) finalizeAverage(t, r.data(), r.data(), count, n);
  return r;
}

// One call; "" or what differs.
std::string checkCall(ncclComm_t comm, Collective c, DataType t, RedOp op, size_t count, int rank,
                      int n, uint64_t seed) {
  const size_t esz = dataTypeSize(t), un = static_cast<size_t>(n);
  const int root = n - 1;
  const size_t inElems = c == Collective::kReduceScatter ? count * un : count;
  const Bytes in = inputOf(t, seed, rank, inElems);
  Bytes out(count * esz + 1, 0xA5);
  ncclResult_t r = ncclSuccess;
  if (c == Collective::kAllReduce)
    r = ncclAllReduce(in.data(), out.data(), count, nt(t), no(op), comm, nullptr);
  else if (c == Collective::kReduceScatter)
    r = ncclReduceScatter(in.data(), out.data(), count, nt(t), no(op), comm, nullptr);
  else
    r = ncclReduce(in.data(), out.data(), count, nt(t), no(op), root, comm, nullptr);
  if (r != ncclSuccess) return std::string("call failed: ") + ncclGetLastError(comm);
  if (c == Collective::kReduce && rank != root) return "";
  const size_t first = c == Collective::kReduceScatter ? static_cast<size_t>(rank) * count : 0;
  const Bytes want = canonicalReference(t, op, n, count, seed, first);
  for (size_t i = 0; i < count; ++i) {
    if (std::memcmp(out.data() + i * esz, want.data() + i * esz, esz) != 0)
      return "element " + std::to_string(i) + " differs from the canonical bits";
  }
  return "";
}

int runOffered(int rank, int n, const ncclUniqueId& id) {
  ncclComm_t world;
  RANK_NCCL(ncclCommInitRank(&world, n, id, rank));
  int failures = 0;
  uint64_t seed = 7;
  for (Collective c : {Collective::kAllReduce, Collective::kReduceScatter, Collective::kReduce}) {
    // The tuner's choice, one algorithm the mode does not offer (forced: a warning and an
    // offered one runs instead), and every offered one.
    std::vector<std::string> algs = {"", c == Collective::kReduce ? "binomial" : "ring"};
    for (const algo::AlgorithmInfo& i : algo::algorithmTable())
      if (i.collective == c && i.reproducible) algs.push_back(i.name);
    for (const std::string& alg : algs) {
      for (const char* nch : {"1", "2", "4"}) {
        const std::string filter =
            alg.empty() ? "" : std::string(algo::collectiveName(c)) + ":" + alg;
        setenv("PLEXUS_ALGO", filter.c_str(), 1);
        setenv("PLEXUS_NCHANNELS", nch, 1);
        ncclComm_t comm;
        RANK_NCCL(ncclCommSplit(world, 0, rank, &comm, nullptr));
        for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16,
                           DataType::kBfloat16, DataType::kFp8E5M2}) {
          for (RedOp op : {RedOp::kSum, RedOp::kAvg, RedOp::kProd}) {
            if (op == RedOp::kProd && t != DataType::kFloat32) continue;
            // 9000 elements: several pieces per channel in the 8 KiB slots below.
            for (size_t count : {size_t{1}, size_t{37}, size_t{9000}}) {
              const std::string d = checkCall(comm, c, t, op, count, rank, n, ++seed);
              if (!d.empty() && failures++ < 10)
                std::fprintf(stderr, "rank %d %s:%s nchannels=%s %s %s count=%zu: %s\n", rank,
                             algo::collectiveName(c), alg.empty() ? "(tuner)" : alg.c_str(), nch,
                             dataTypeName(t), redOpName(op), count, d.c_str());
            }
          }
        }
        RANK_NCCL(ncclCommDestroy(comm));
      }
    }
  }
  RANK_NCCL(ncclCommDestroy(world));
  return failures == 0 ? 0 : 1;
}

struct ReproSetup {
  const char* name;
  int nranks;
  const char* transports;
  bool twoHosts;
};

class Reproducible : public ::testing::TestWithParam<ReproSetup> {};

TEST_P(Reproducible, OfferedAlgorithmsGiveCanonicalBits) {
  const ReproSetup s = GetParam();
  RunOptions o;
  o.env = {{"PLEXUS_TRANSPORTS", s.transports},
           {"PLEXUS_REPRODUCIBLE", "1"},
           {"PLEXUS_TIMEOUT", "60"},
           {"PLEXUS_SLOT_SIZE", "8K"},
           {"PLEXUS_SLOTS", "4"}};
  o.timeoutSeconds = 300;
  auto out = runRanks(
      s.nranks,
      [s](int r, int n, const ncclUniqueId& id) {
        if (s.twoHosts) setenv("PLEXUS_HOSTID", r < (n + 1) / 2 ? "fake-host-a" : "fake-host-b", 1);
        return runOffered(r, n, id);
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
}

INSTANTIATE_TEST_SUITE_P(Setups, Reproducible,
                         ::testing::Values(ReproSetup{"1rank", 1, "shm", false},
                                           ReproSetup{"2ranks_shm", 2, "shm", false},
                                           ReproSetup{"3ranks_tcp", 3, "tcp", false},
                                           ReproSetup{"4ranks_shm", 4, "shm", false},
                                           ReproSetup{"5ranks_shm", 5, "shm", false},
                                           ReproSetup{"5ranks_tcp", 5, "tcp", false},
                                           ReproSetup{"3ranks_2hosts", 3, "shm,tcp", true},
                                           ReproSetup{"4ranks_2hosts", 4, "shm,tcp", true}),
                         [](const ::testing::TestParamInfo<ReproSetup>& p) {
                           return std::string(p.param.name);
                         });

// 5 ranks over shm with the ring all-reduce forced (the mode replaces it; the default runs it).
RunOptions ringOverShm() {
  RunOptions o;
  o.env = {
      {"PLEXUS_TRANSPORTS", "shm"}, {"PLEXUS_TIMEOUT", "60"}, {"PLEXUS_ALGO", "allreduce:ring"}};
  o.timeoutSeconds = 120;
  return o;
}

// The default mode's ring all-reduce of the same kind of data differs from the canonical bits in
// at least one element (on 5 ranks its partial sums start at different ranks per chunk), while
// the mode's result on the same communicator shape is canonical: the test above can fail.
TEST(ReproducibleDefault, RingDiffersFromCanonical) {
  const RunOptions o = ringOverShm();
  auto out = runRanks(
      5,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        const size_t count = 4096;
        const DataType t = DataType::kFloat32;
        const Bytes in = inputOf(t, 99, rank, count);
        Bytes got(count * 4);
        RANK_NCCL(ncclAllReduce(in.data(), got.data(), count, nt(t), ncclSum, comm, nullptr));
        const Bytes want = canonicalReference(t, RedOp::kSum, n, count, 99, 0);
        size_t differ = 0;
        for (size_t i = 0; i < count; ++i) {
          float a, b;
          std::memcpy(&a, got.data() + i * 4, 4);
          std::memcpy(&b, want.data() + i * 4, 4);
          RANK_CHECK(std::fabs(a - b) <= 1e-4f * (1 + std::fabs(b)), "element %zu: %g vs %g", i, a,
                     b);
          differ += std::memcmp(&a, &b, 4) != 0 ? 1 : 0;
        }
        RANK_CHECK(differ > 0, "ring gave the canonical bits for all %zu elements", count);
        std::fprintf(stderr, "rank %d: ring differs from canonical in %zu of %zu elements\n", rank,
                     differ, count);
        RANK_NCCL(ncclCommDestroy(comm));
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
}

// Communicator::Options::reproducible turns the mode on for one communicator (PLEXUS_REPRODUCIBLE
// unset) and a split inherits it: a forced ring all-reduce then gives the canonical bits.
TEST(ReproducibleOption, CppOptionAndSplitGiveCanonicalBits) {
  const RunOptions o = ringOverShm();
  auto out = runRanks(
      5,
      [](int rank, int n, const ncclUniqueId& id) {
        unsetenv("PLEXUS_REPRODUCIBLE");
        UniqueId uid;
        std::memcpy(uid.bytes.data(), id.internal, uid.bytes.size());
        Communicator::Options opts;
        opts.reproducible = 1;
        Communicator comm = Communicator::init(uid, rank, n, opts);
        Communicator same = comm.split(0, rank);  // every rank: color 0
        const size_t count = 4096;
        const Bytes in = inputOf(DataType::kFloat32, 99, rank, count);
        const Bytes want = canonicalReference(DataType::kFloat32, RedOp::kSum, n, count, 99, 0);
        for (Communicator* c : {&comm, &same}) {
          Bytes got(count * 4);
          c->allReduce(in.data(), got.data(), count, DataType::kFloat32, RedOp::kSum, false).wait();
          RANK_CHECK(std::memcmp(got.data(), want.data(), got.size()) == 0,
                     "%s: not the canonical bits", c == &comm ? "init" : "split");
        }
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
}

}  // namespace
}  // namespace plexus::testing
