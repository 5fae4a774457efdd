// The soak, over shm and tcp (soak_test.hpp): 8 ranks, randomized collectives (every type, op and
// collective, counts from 0 through primes to 100K, every root, in place or not), send/recv pairs
// at every shift (0: to oneself), and groups of 2 to 4 mixed operations, each checked exactly.
// Prints "SOAK|<transport>|seed=S|operations=N|checked=C|wrong=W|seconds=T"; passes with W = 0.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/soak_test.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

using namespace soak;

constexpr int kRanks = 8;
constexpr int kSyncEvery = 32;  // operations between the ranks' agreement on whether to stop

uint64_t envU64(const char* name, uint64_t otherwise) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 0) : otherwise;
}

// What a rank counted, summed over the ranks at the end.
struct Tally {
  int64_t operations = 0;  // operations issued (the same on every rank)
  int64_t checked = 0;     // results checked on this rank
  int64_t wrong = 0;
};

// True when every rank agrees to stop (any rank's time is up).
bool agreeToStop(ncclComm_t comm, bool mine, ncclResult_t* r) {
  int32_t v = mine ? 1 : 0;
  *r = ncclAllReduce(&v, &v, 1, ncclInt32, ncclMax, comm, nullptr);
  return *r != ncclSuccess || v != 0;
}

// One step: a single operation, or with probability 1/8 a group of 2 to 4. Returns false after a
// failed call (printed with the seed and the index of the operation).
bool step(ncclComm_t comm, std::mt19937_64& rng, int rank, int n, uint64_t seed, Tally* t) {
  const int size = rng() % 8 == 0 ? 2 + static_cast<int>(rng() % 3) : 1;
  std::vector<Op> ops;
  std::vector<std::unique_ptr<Exec>> execs;
  for (int i = 0; i < size; ++i) {
    ops.push_back(drawOp(rng, n));
    execs.push_back(std::make_unique<Exec>(ops.back(), rank, n));
  }
  const int64_t first = t->operations;
  ncclResult_t r = size > 1 ? ncclGroupStart() : ncclSuccess;
  for (int i = 0; i < size && r == ncclSuccess; ++i) r = execs[static_cast<size_t>(i)]->issue(comm);
  if (size > 1) {
    ncclResult_t end = ncclGroupEnd();
    if (r == ncclSuccess) r = end;
  }
  t->operations += size;
  if (r != ncclSuccess) {
    std::fprintf(stderr, "FAILED seed=%llu op #%lld (%s%s): %s: %s\n",
                 static_cast<unsigned long long>(seed), static_cast<long long>(first),
                 describe(ops[0]).c_str(), size > 1 ? ", in a group" : "", ncclGetErrorString(r),
                 ncclGetLastError(comm));
    return false;
  }
  for (int i = 0; i < size; ++i) {
    ++t->checked;
    const std::string wrong = execs[static_cast<size_t>(i)]->check();
    if (wrong.empty()) continue;
    if (t->wrong++ < 20)
      std::fprintf(stderr, "WRONG seed=%llu op #%lld on rank %d (%s%s): %s\n",
                   static_cast<unsigned long long>(seed), static_cast<long long>(first + i), rank,
                   describe(ops[static_cast<size_t>(i)]).c_str(), size > 1 ? ", in a group" : "",
                   wrong.c_str());
  }
  return true;
}

int soakRank(int rank, int n, const ncclUniqueId& id, uint64_t seed, double seconds,
             const std::string& transport) {
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  std::mt19937_64 rng(seed);
  Tally t;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  ncclResult_t r = ncclSuccess;
  for (int64_t s = 0;; ++s) {
    if (s % kSyncEvery == 0 && agreeToStop(comm, elapsed() >= seconds, &r)) break;
    if (!step(comm, rng, rank, n, seed, &t)) return 1;
  }
  RANK_NCCL(r);
  int64_t sums[2] = {t.checked, t.wrong};
  RANK_NCCL(ncclAllReduce(sums, sums, 2, ncclInt64, ncclSum, comm, nullptr));
  if (rank == 0)
    std::fprintf(stderr, "SOAK|%s|seed=%llu|operations=%lld|checked=%lld|wrong=%lld|seconds=%.0f\n",
                 transport.c_str(), static_cast<unsigned long long>(seed),
                 static_cast<long long>(t.operations), static_cast<long long>(sums[0]),
                 static_cast<long long>(sums[1]), elapsed());
  RANK_NCCL(ncclCommFinalize(comm));
  RANK_NCCL(ncclCommDestroy(comm));
  return t.wrong == 0 && sums[1] == 0 ? 0 : 1;
}

class Soak : public OnEveryTransport {};

TEST_P(Soak, RandomizedOperationsAllExact) {
  const uint64_t seed = envU64(
      "PLEXUS_SOAK_SEED",
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) % 1000000);
  const double seconds = static_cast<double>(envU64("PLEXUS_SOAK_SECONDS", 60));
  std::printf("soak over %s: seed %llu (PLEXUS_SOAK_SEED=%llu repeats it), %.0f s\n",
              transport().name.c_str(), static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed), seconds);
  RunOptions o = optionsFor(transport(), 30);
  o.timeoutSeconds = static_cast<int>(seconds) + 240;
  const std::string name = transport().name;
  auto out = runRanks(
      kRanks,
      [&](int rank, int n, const ncclUniqueId& id) {
        return soakRank(rank, n, id, seed, seconds, name);
      },
      o);
  EXPECT_EQ(describeFailures(out), "") << "seed " << seed;
  const std::string& log = out[0].output;
  const size_t at = log.find("SOAK|");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string line = log.substr(at, log.find('\n', at) - at);
  std::printf("%s\n", line.c_str());
  EXPECT_TRUE(contains(line, "|wrong=0|")) << line;
  if (const char* file = std::getenv("PLEXUS_SOAK_OUT"))
    std::ofstream(file, std::ios::app) << line << "\n";
}

// The checks are not vacuous: a call that never ran (output still as filled) fails every kind.
TEST(SoakChecks, NoticeAnOperationThatDidNotRun) {
  for (Kind k : {Kind::kAllReduce, Kind::kReduce, Kind::kReduceScatter, Kind::kAllGather,
                 Kind::kBroadcast, Kind::kSendRecv}) {
    for (bool inPlace : {false, true}) {
      Op op;
      op.kind = k;
      op.type = DataType::kFloat32;
      op.count = 1021;
      op.root = 0;
      op.shift = 1;
      op.inPlace = inPlace && k != Kind::kSendRecv;
      op.seed = 7;
      // Rank 0 checks the result of a reduce rooted at 0 and receives a broadcast from rank 1.
      if (k == Kind::kBroadcast) op.root = 1;
      Exec e(op, 0, kRanks);
      EXPECT_NE(e.check(), "") << describe(op);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, Soak,
                         ::testing::Values(transportNamed("shm"), transportNamed("tcp")),
                         transportName);

}  // namespace
}  // namespace plexus::testing
