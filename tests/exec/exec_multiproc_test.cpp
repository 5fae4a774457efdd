// The shared step interpreter on real bytes across processes: N forked ranks (1, 2, 3, 4, 5, 8)
// each build their plans with the algorithms' registry, flatten them and run them through a
// MappedExecutor (a thread per channel over windows mapped between the processes); every output
// element is checked exactly. Then the failures: a killed peer, a silent peer and mismatched
// calls end in errors that name the peer, within bounded time, with no process left behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "algorithms/registry.hpp"
#include "engine/exec/mapped_executor.hpp"
#include "engine/exec/window.hpp"
#include "tests/exec/exec_cases.hpp"
#include "tests/multiproc/rank_harness.hpp"

namespace plexus::exectest {
namespace {

using engine::exec::FlatPlan;
using engine::exec::MappedExecutor;
using engine::exec::MappedExecutorConfig;
using testing::runRanks;

constexpr int kMaxRanks = 8;

// Window names, exchanged through anonymous shared memory the forked ranks inherit.
struct NameBoard {
  std::atomic<int> ready[kMaxRanks];
  char names[kMaxRanks][128];
};

class SharedBoard {
 public:
  SharedBoard() {
    mem_ =
        mmap(nullptr, sizeof(NameBoard), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    board_ = new (mem_) NameBoard();
  }
  ~SharedBoard() {
    board_->~NameBoard();
    munmap(mem_, sizeof(NameBoard));
  }
  NameBoard* get() const { return board_; }

 private:
  void* mem_ = nullptr;
  NameBoard* board_ = nullptr;
};

// Publishes this rank's window name and collects everyone's (empty vector on timeout).
std::vector<std::string> exchangeNames(NameBoard* b, int rank, int n, const std::string& mine) {
  std::snprintf(b->names[rank], sizeof(b->names[rank]), "%s", mine.c_str());
  b->ready[rank].store(1, std::memory_order_release);
  std::vector<std::string> out(static_cast<size_t>(n));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (int r = 0; r < n; ++r) {
    while (b->ready[r].load(std::memory_order_acquire) == 0) {
      if (std::chrono::steady_clock::now() > until) return {};
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    out[static_cast<size_t>(r)] = b->names[r];
  }
  return out;
}

MappedExecutorConfig configFor(int rank, int n, std::chrono::milliseconds timeout,
                               const engine::exec::FlattenOptions& fifo = {kSlotBytes, kSlots}) {
  MappedExecutorConfig cfg;
  cfg.rank = rank;
  cfg.nranks = n;
  cfg.slotBytes = fifo.slotBytes;
  cfg.slots = fifo.slots;
  cfg.timeout = timeout;
  return cfg;
}

std::vector<const FlatPlan*> flatsOf(const std::vector<PreparedCase>& cases) {
  std::vector<const FlatPlan*> out;
  for (const PreparedCase& c : cases) out.push_back(&c.flat);
  return out;
}

// One rank of a suite: every case, in order, checked exactly.
int suiteBody(const std::string& suite, int rank, int n, NameBoard* board) {
  const engine::exec::FlattenOptions fifo = fifoFor(suite);
  const std::vector<PreparedCase> cases = prepareCases(suiteCases(suite, n), rank, n, fifo);
  MappedExecutor ex(configFor(rank, n, std::chrono::seconds(20), fifo),
                    engine::exec::unionFifos(flatsOf(cases)));
  const std::vector<std::string> names = exchangeNames(board, rank, n, ex.windowName());
  RANK_CHECK(!names.empty(), "rank %d: no window names from every rank", rank);
  ex.connect(names);
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string err = runCase(ex, cases[i], rank, n, i + 1);
    RANK_CHECK(err.empty(), "case %zu of %zu: %s", i, cases.size(), err.c_str());
  }
  std::fprintf(stderr, "rank %d: %zu cases exact\n", rank, cases.size());
  return 0;
}

// No child process may outlive a run.
void expectNoChildren() {
  errno = 0;
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD) << "a rank process was left behind";
}

using SuiteParam = std::tuple<int, std::string>;

class ExecMatrix : public ::testing::TestWithParam<SuiteParam> {};

TEST_P(ExecMatrix, Exact) {
  const auto& [n, suite] = GetParam();
  SharedBoard board;
  testing::RunOptions opt;
  opt.rank0MakesId = false;
  opt.timeoutSeconds = 90;
  const auto outcomes = runRanks(
      n,
      [&, s = suite](int rank, int nranks, const ncclUniqueId&) {
        return suiteBody(s, rank, nranks, board.get());
      },
      opt);
  EXPECT_EQ(testing::describeFailures(outcomes), "");
  ASSERT_FALSE(outcomes.empty());
  EXPECT_NE(outcomes[0].output.find("cases exact"), std::string::npos) << outcomes[0].output;
  std::printf("%s", outcomes[0].output.c_str());
  expectNoChildren();
}

INSTANTIATE_TEST_SUITE_P(Ranks, ExecMatrix,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4, 5, 8),
                                            ::testing::Values("allreduce", "reducing", "movement",
                                                              "sizes", "large")),
                         [](const ::testing::TestParamInfo<SuiteParam>& i) {
                           return std::get<1>(i.param) + "_" +
                                  std::to_string(std::get<0>(i.param)) + "ranks";
                         });

// A ring all-reduce of `count` int32 for rank `rank`, flattened.
FlatPlan ringAllReduce(int rank, int n, uint64_t count) {
  ExecCase c{
      algo::Collective::kAllReduce, "ring", DataType::kInt32, RedOp::kSum, count, false, 1, 0};
  return std::move(prepareCases({c}, rank, n).at(0).flat);
}

// Runs `count` on every rank except that `misbehave` decides what rank `bad` does after connect;
// returns the outcomes. Survivors print "ERROR: <message>" and "ELAPSED <ms>".
template <class Misbehave>
std::vector<testing::RankOutcome> failureRun(int n, int bad, std::chrono::milliseconds timeout,
                                             Misbehave misbehave) {
  SharedBoard board;
  testing::RunOptions opt;
  opt.rank0MakesId = false;
  opt.timeoutSeconds = 60;
  return runRanks(
      n,
      [&](int rank, int nranks, const ncclUniqueId&) {
        const FlatPlan plan = ringAllReduce(rank, nranks, 5000);
        MappedExecutor ex(configFor(rank, nranks, timeout), plan.fifos);
        const auto names = exchangeNames(board.get(), rank, nranks, ex.windowName());
        RANK_CHECK(!names.empty(), "no names");
        ex.connect(names);
        if (rank == bad) return static_cast<int>(misbehave(rank, nranks, ex));
        std::vector<int32_t> data(5000, rank);
        const auto t0 = std::chrono::steady_clock::now();
        try {
          ex.execute(plan, {data.data(), data.data(), nullptr});
        } catch (const Error& e) {
          const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - t0)
                              .count();
          std::fprintf(stderr, "ERROR: %s\nELAPSED %lld\n", e.what(), static_cast<long long>(ms));
          return 0;
        }
        std::fprintf(stderr, "no error\n");
        return 1;
      },
      opt);
}

long long elapsedOf(const std::string& out) {
  const size_t at = out.find("ELAPSED ");
  return at == std::string::npos ? -1 : std::stoll(out.substr(at + 8));
}

TEST(ExecFailure, KilledPeerIsNamedWithinASecond) {
  for (int n : {2, 3}) {
    const int bad = n - 1;
    const auto outcomes = failureRun(n, bad, std::chrono::seconds(30), [](int, int, auto&) {
      raise(SIGKILL);
      return 1;
    });
    EXPECT_EQ(outcomes[static_cast<size_t>(bad)].exitCode, 128 + SIGKILL);
    for (int r = 0; r < bad; ++r) {
      const std::string& out = outcomes[static_cast<size_t>(r)].output;
      EXPECT_EQ(outcomes[static_cast<size_t>(r)].exitCode, 0) << out;
      EXPECT_NE(out.find("ERROR: rank " + std::to_string(r)), std::string::npos) << out;
      if (r == 0) {  // its ring predecessor is the dead rank
        EXPECT_NE(out.find("rank " + std::to_string(bad) + " died"), std::string::npos) << out;
      }
      EXPECT_GE(elapsedOf(out), 0) << out;
      EXPECT_LT(elapsedOf(out), 5000) << out;
    }
  }
  expectNoChildren();
}

TEST(ExecFailure, SilentPeerTimesOutNamingIt) {
  const auto outcomes = failureRun(2, 1, std::chrono::milliseconds(800), [](int, int, auto&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return 0;
  });
  const std::string& out = outcomes[0].output;
  EXPECT_EQ(outcomes[0].exitCode, 0) << out;
  EXPECT_NE(out.find("timed out waiting for"), std::string::npos) << out;
  EXPECT_NE(out.find("rank 1 on connection 0"), std::string::npos) << out;
  EXPECT_GE(elapsedOf(out), 700) << out;
  EXPECT_LT(elapsedOf(out), 5000) << out;
  expectNoChildren();
}

TEST(ExecFailure, MismatchedCallsAreNamed) {
  // Rank 1 runs the all-reduce with another count: both ranks see a message they did not expect.
  const auto outcomes =
      failureRun(2, 1, std::chrono::seconds(5), [](int rank, int n, MappedExecutor& ex) {
        const FlatPlan other = ringAllReduce(rank, n, 4999);
        std::vector<int32_t> data(4999, 1);
        try {
          ex.execute(other, {data.data(), data.data(), nullptr});
        } catch (const Error& e) {
          std::fprintf(stderr, "ERROR: %s\n", e.what());
          return std::string(e.what()).find("message mismatch from rank 0") == std::string::npos;
        }
        return true;
      });
  EXPECT_EQ(testing::describeFailures(outcomes), "");
  EXPECT_NE(outcomes[0].output.find("message mismatch from rank 1 on connection 0"),
            std::string::npos)
      << outcomes[0].output;
  expectNoChildren();
}

}  // namespace
}  // namespace plexus::exectest
