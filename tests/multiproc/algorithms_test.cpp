// Every algorithm of every collective on real bytes: each rank forces one algorithm at a time
// (PLEXUS_ALGO=<collective>:<algorithm>, read by a communicator split off for it) and checks exact
// results, in and out of place, at several counts and roots, over shm, over tcp, and on two fake
// hosts (PLEXUS_HOSTID) so hierarchical algorithms run with shm inside and tcp across.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "algorithms/registry.hpp"
#include "kernels/datatype.hpp"
#include "tests/multiproc/collective_check.hpp"
#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

using algo::Collective;

ncclDataType_t nt(DataType t) {
  return static_cast<ncclDataType_t>(t);
}
ncclRedOp_t no(RedOp o) {
  return static_cast<ncclRedOp_t>(o);
}

// Runs one collective call and checks it; returns "" or what went wrong.
std::string checkOne(ncclComm_t comm, Collective c, DataType t, RedOp op, size_t count,
                     bool inplace, int root, int rank, int n, uint64_t seed) {
  const size_t esz = dataTypeSize(t);
  const size_t un = static_cast<size_t>(n), ur = static_cast<size_t>(rank);
  std::vector<unsigned char> in(count * un * esz + 8), out(count * un * esz + 8, 0xA5);
  std::vector<unsigned char> exp;
  ncclResult_t r = ncclSuccess;
  const void* got = nullptr;
  bool reduced = false;
  switch (c) {
    case Collective::kAllReduce: {
      unsigned char* buf = inplace ? out.data() : in.data();
      fillInput(buf, t, op, rank, n, count, seed);
      r = ncclAllReduce(buf, out.data(), count, nt(t), no(op), comm, nullptr);
      exp = expectedReduction(t, op, n, count, seed);
      got = out.data();
      reduced = true;
      break;
    }
    case Collective::kReduceScatter: {
      unsigned char* buf = inplace ? out.data() : in.data();
      fillInput(buf, t, op, rank, n, count * un, seed);
      void* dst = inplace ? out.data() + ur * count * esz : out.data();
      r = ncclReduceScatter(buf, dst, count, nt(t), no(op), comm, nullptr);
      exp = expectedReduction(t, op, n, count, seed, ur * count);
      got = dst;
      reduced = true;
      break;
    }
    case Collective::kReduce: {
      unsigned char* buf = inplace ? out.data() : in.data();
      fillInput(buf, t, op, rank, n, count, seed);
      r = ncclReduce(buf, out.data(), count, nt(t), no(op), root, comm, nullptr);
      if (rank != root) return r == ncclSuccess ? "" : ncclGetLastError(comm);
      exp = expectedReduction(t, op, n, count, seed);
      got = out.data();
      reduced = true;
      break;
    }
    case Collective::kAllGather: {
      unsigned char* mine = inplace ? out.data() + ur * count * esz : in.data();
      fillBytes(mine, count * esz, rank, seed);
      r = ncclAllGather(mine, out.data(), count, nt(t), comm, nullptr);
      exp.resize(count * un * esz);
      for (int k = 0; k < n; ++k)
        fillBytes(exp.data() + static_cast<size_t>(k) * count * esz, count * esz, k, seed);
      got = out.data();
      break;
    }
    case Collective::kBroadcast: {
      unsigned char* src = inplace ? out.data() : in.data();
      if (rank == root) fillBytes(src, count * esz, root, seed);
      r = ncclBroadcast(src, out.data(), count, nt(t), root, comm, nullptr);
      exp.resize(count * esz);
      fillBytes(exp.data(), exp.size(), root, seed);
      got = out.data();
      break;
    }
    case Collective::kAllToAll: {
      unsigned char* buf = inplace ? out.data() : in.data();
      for (int j = 0; j < n; ++j)
        fillBytes(buf + static_cast<size_t>(j) * count * esz, count * esz, rank * n + j, seed);
      r = ncclAlltoAll(buf, out.data(), count, nt(t), comm, nullptr);
      exp.resize(count * un * esz);
      for (int i = 0; i < n; ++i)
        fillBytes(exp.data() + static_cast<size_t>(i) * count * esz, count * esz, i * n + rank,
                  seed);
      got = out.data();
      break;
    }
    case Collective::kGather: {
      unsigned char* mine = inplace && rank == root ? out.data() + ur * count * esz : in.data();
      fillBytes(mine, count * esz, rank, seed);
      r = ncclGather(mine, out.data(), count, nt(t), root, comm, nullptr);
      if (rank != root) return r == ncclSuccess ? "" : ncclGetLastError(comm);
      exp.resize(count * un * esz);
      for (int k = 0; k < n; ++k)
        fillBytes(exp.data() + static_cast<size_t>(k) * count * esz, count * esz, k, seed);
      got = out.data();
      break;
    }
    case Collective::kScatter: {
      if (rank == root)
        for (int j = 0; j < n; ++j)
          fillBytes(in.data() + static_cast<size_t>(j) * count * esz, count * esz, j, seed);
      void* dst = inplace && rank == root ? in.data() + ur * count * esz : out.data();
      r = ncclScatter(in.data(), dst, count, nt(t), root, comm, nullptr);
      exp.resize(count * esz);
      fillBytes(exp.data(), exp.size(), rank, seed);
      got = dst;
      break;
    }
    default:
      return "unsupported collective in test";
  }
  if (r != ncclSuccess) return std::string("call failed: ") + ncclGetLastError(comm);
  size_t elems = exp.size() / esz;
  return compareResult(got, exp.data(), t, op, elems, reduced);
}

int runAlgorithms(int rank, int n, const ncclUniqueId& id) {
  ncclComm_t world;
  RANK_NCCL(ncclCommInitRank(&world, n, id, rank));
  int failures = 0;
  uint64_t seed = 100;
  const Collective colls[] = {Collective::kAllReduce, Collective::kReduceScatter,
                              Collective::kReduce,    Collective::kAllGather,
                              Collective::kBroadcast, Collective::kAllToAll,
                              Collective::kGather,    Collective::kScatter};
  for (Collective c : colls) {
    for (const std::string& alg : algo::algorithmsFor(c)) {
      std::string filter = std::string(algo::collectiveName(c)) + ":" + alg;
      setenv("PLEXUS_ALGO", filter.c_str(), 1);
      ncclComm_t comm;
      RANK_NCCL(ncclCommSplit(world, 0, rank, &comm, nullptr));
      bool rooted = c == Collective::kReduce || c == Collective::kBroadcast ||
                    c == Collective::kGather || c == Collective::kScatter;
      bool reduces = c == Collective::kAllReduce || c == Collective::kReduceScatter ||
                     c == Collective::kReduce;
      for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1013}, size_t{65539}}) {
        for (int inplace = 0; inplace < 2; ++inplace) {
          for (int root : {0, n - 1}) {
            if (!rooted && root != 0) continue;
            struct TO {
              DataType t;
              RedOp op;
            };
            const TO cases[] = {{DataType::kInt32, RedOp::kSum},
                                {DataType::kFloat32, RedOp::kMax},
                                {DataType::kBfloat16, RedOp::kAvg},
                                {DataType::kUint8, RedOp::kProd}};
            for (const TO& to : cases) {
              if (!reduces && to.t != DataType::kInt32) continue;
              if (count == 65539 && to.t != DataType::kInt32) continue;
              std::string d =
                  checkOne(comm, c, to.t, to.op, count, inplace != 0, root, rank, n, ++seed);
              if (!d.empty() && failures++ < 10)
                std::fprintf(stderr, "%s count=%zu %s root=%d %s %s: %s\n", filter.c_str(), count,
                             inplace ? "in-place" : "out-of-place", root, dataTypeName(to.t),
                             redOpName(to.op), d.c_str());
            }
          }
        }
      }
      RANK_NCCL(ncclCommDestroy(comm));
    }
  }
  RANK_NCCL(ncclCommDestroy(world));
  return failures == 0 ? 0 : 1;
}

struct AlgoSetup {
  const char* name;
  int nranks;
  const char* transports;
  bool twoHosts;
};

class Algorithms : public ::testing::TestWithParam<AlgoSetup> {};

TEST_P(Algorithms, EveryAlgorithmExact) {
  AlgoSetup s = GetParam();
  RunOptions o;
  o.env = {{"PLEXUS_TRANSPORTS", s.transports},
           {"PLEXUS_TIMEOUT", "60"},
           {"PLEXUS_SLOT_SIZE", "32K"},
           {"PLEXUS_SLOTS", "4"}};
  o.timeoutSeconds = 600;
  auto out = runRanks(
      s.nranks,
      [s](int r, int n, const ncclUniqueId& id) {
        if (s.twoHosts) setenv("PLEXUS_HOSTID", r < n / 2 ? "fake-host-a" : "fake-host-b", 1);
        return runAlgorithms(r, n, id);
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
}

INSTANTIATE_TEST_SUITE_P(Setups, Algorithms,
                         ::testing::Values(AlgoSetup{"3ranks_shm", 3, "shm", false},
                                           AlgoSetup{"5ranks_shm", 5, "shm", false},
                                           AlgoSetup{"5ranks_tcp", 5, "tcp", false},
                                           AlgoSetup{"4ranks_2hosts", 4, "shm,tcp", true},
                                           AlgoSetup{"6ranks_2hosts", 6, "shm,tcp", true}),
                         [](const ::testing::TestParamInfo<AlgoSetup>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace plexus::testing
