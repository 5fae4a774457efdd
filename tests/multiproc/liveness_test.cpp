// What a SIGKILL leaves behind and how fast survivors learn of it, without plexus-run:
// - ranks forked by a program of our own (rank 0 is the parent of the others and does not reap
//   them while it is inside a collective) fail within seconds of a peer's SIGKILL, naming it,
//   over shm and over tcp;
// - SIGKILL of every rank of a job, at any moment from connection set-up to the middle of an
//   all-reduce, leaves /dev/shm as it was;
// - FIFOs are sized to the shared-memory budget, and FIFOs the user made too large for it fail
//   with an error naming the budget.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

std::set<std::string> plexusShmEntries() {
  std::set<std::string> names;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name).rfind("plexus", 0) == 0) names.insert(e->d_name);
    closedir(d);
  }
  return names;
}

// Shared between the processes of one test (mapped before fork).
struct Board {
  std::atomic<int64_t> killedAtNs{0};  // steady clock of the kill
  std::atomic<int> pids[8];
  std::atomic<int> idReady{0};  // 1 once `id` is written, -1 if making it failed
  ncclUniqueId id;
};

Board* newBoard() {
  void* mem =
      mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return new (mem) Board();
}

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// One rank of the self-forked job: all-reduces until an error, which it prints with how long
// after the kill it came. Rank 2 dies at its third iteration.
int selfForkedRank(int rank, int n, const ncclUniqueId& id, Board* board) {
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  std::vector<float> buf(1 << 18, 1.0f);
  for (int i = 0; i < 1000; ++i) {
    if (i == 2 && rank == 2) {
      board->killedAtNs.store(nowNs());
      raise(SIGKILL);
    }
    ncclResult_t r =
        ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr);
    if (r != ncclSuccess) {
      double after = static_cast<double>(nowNs() - board->killedAtNs.load()) / 1e9;
      std::fprintf(stderr, "ERROR rank %d after %.3f s: %s\n", rank, after, ncclGetLastError(comm));
      ncclCommAbort(comm);
      return r == ncclRemoteError ? 0 : 1;
    }
  }
  std::fprintf(stderr, "rank %d: no error after the peer died\n", rank);
  return 1;
}

class SelfForked : public ::testing::TestWithParam<const char*> {};

TEST_P(SelfForked, KilledRankIsNamedByEverySurvivorWithinSeconds) {
  Board* board = newBoard();
  RunOptions o;
  o.env = {{"PLEXUS_TRANSPORTS", GetParam()}, {"PLEXUS_TIMEOUT", "60"}};
  o.rank0MakesId = false;
  auto out = runRanks(
      1,
      [board](int, int, const ncclUniqueId&) {
        constexpr int kRanks = 4;
        // Children first, while this process has one thread (the unique id starts the bootstrap
        // root's thread here); they wait for the id on the board.
        std::vector<pid_t> children;
        for (int r = 1; r < kRanks; ++r) {
          pid_t pid = fork();
          if (pid == 0) {
            auto until = Clock::now() + std::chrono::seconds(30);
            while (board->idReady.load() == 0 && Clock::now() < until)
              std::this_thread::sleep_for(std::chrono::milliseconds(2));
            if (board->idReady.load() != 1) _exit(92);
            _exit(selfForkedRank(r, kRanks, board->id, board));
          }
          children.push_back(pid);
        }
        ncclResult_t made = ncclGetUniqueId(&board->id);
        board->idReady.store(made == ncclSuccess ? 1 : -1);
        RANK_NCCL(made);
        // The parent is rank 0 and reaps its children only after its own collective failed: the
        // killed rank stays a zombie meanwhile.
        int rc = selfForkedRank(0, kRanks, board->id, board);
        for (size_t i = 0; i < children.size(); ++i) {
          int status = 0;
          waitpid(children[i], &status, 0);
          int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          std::fprintf(stderr, "child rank %zu: exit %d\n", i + 1, code);
          if (i + 1 != 2 && code != 0) rc = 1;
          if (i + 1 == 2 && code != 128 + SIGKILL) rc = 1;
        }
        return rc;
      },
      o);
  const std::string& log = out[0].output;
  EXPECT_EQ(out[0].exitCode, 0) << log;
  for (int r : {0, 1, 3}) {
    std::string tag = "ERROR rank " + std::to_string(r) + " after ";
    size_t at = log.find(tag);
    ASSERT_NE(at, std::string::npos) << log;
    std::string line = log.substr(at, log.find('\n', at) - at);
    double after = std::stod(line.substr(tag.size()));
    EXPECT_LT(after, 5.0) << line;
    EXPECT_TRUE(contains(line, "rank 2 (host")) << line;
    std::printf("%s\n", line.c_str());
  }
  board->~Board();
  munmap(board, sizeof(Board));
}

INSTANTIATE_TEST_SUITE_P(Transports, SelfForked, ::testing::Values("shm", "tcp"));

class KillEveryRank : public ::testing::TestWithParam<const char*> {};

// Rank 0's helper thread SIGKILLs every rank (itself last) `delayMs` after init, while the main
// threads all-reduce: from connection set-up (0 ms) to the middle of the data.
TEST_P(KillEveryRank, NothingIsLeftInDevShm) {
  const std::set<std::string> before = plexusShmEntries();
  for (int delayMs : {0, 1, 5, 30, 200}) {
    Board* board = newBoard();
    RunOptions o;
    o.env = {{"PLEXUS_TRANSPORTS", GetParam()}, {"PLEXUS_TIMEOUT", "30"}};
    auto out = runRanks(
        4,
        [board, delayMs](int rank, int n, const ncclUniqueId& id) {
          board->pids[rank].store(static_cast<int>(getpid()));
          ncclComm_t comm;
          RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
          if (rank == 0) {
            std::thread([board, n, delayMs] {
              std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
              for (int r = n - 1; r >= 0; --r) kill(board->pids[r].load(), SIGKILL);
            }).detach();
          }
          std::vector<float> buf(1 << 20, 1.0f);
          for (int i = 0; i < 100000; ++i)
            if (ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm,
                              nullptr) != ncclSuccess) {
              // A rank whose peer died first may fail before its own SIGKILL arrives.
              pause();
            }
          return 1;
        },
        o);
    for (int r = 0; r < 4; ++r)
      EXPECT_EQ(out[static_cast<size_t>(r)].exitCode, 128 + SIGKILL)
          << "delay " << delayMs << " ms, rank " << r << ": " << out[static_cast<size_t>(r)].output;
    EXPECT_EQ(plexusShmEntries(), before)
        << "after SIGKILL of every rank " << delayMs << " ms after init";
    board->~Board();
    munmap(board, sizeof(Board));
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, KillEveryRank, ::testing::Values("shm", "tcp"));

// FIFOs the user sized beyond the budget: every rank fails at its first connection, naming the
// budget and the knobs, instead of exhausting the host.
TEST(ShmBudget, ExhaustedBudgetFailsNamingTheKnob) {
  RunOptions o;
  o.env = {{"PLEXUS_TRANSPORTS", "shm"},
           {"PLEXUS_TIMEOUT", "30"},
           {"PLEXUS_SHM_BUDGET", "1M"},
           {"PLEXUS_SLOT_SIZE", "128K"},
           {"PLEXUS_SLOTS", "8"}};
  auto t0 = Clock::now();
  auto out = runRanks(
      4,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<int32_t> buf(1024, rank);
        ncclResult_t r =
            ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclInt32, ncclSum, comm, nullptr);
        RANK_CHECK(r != ncclSuccess, "the all-reduce succeeded within a 1 MiB budget");
        std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
        ncclCommAbort(comm);
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
  for (const auto& r : out) {
    // The share is checked before anything is created or linked, so each rank fails on its own.
    EXPECT_TRUE(contains(r.output, "PLEXUS_SHM_BUDGET=1048576 bytes per host / 4 ranks"))
        << r.output;
    EXPECT_TRUE(contains(r.output, "PLEXUS_SLOTS=8 x PLEXUS_SLOT_SIZE=131072")) << r.output;
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(20));
}

// Left to choose, init sizes the FIFOs so that every rank's FIFOs from all its same-host peers fit
// its share of the budget, and the job runs.
TEST(ShmBudget, FifosAreSizedToFitTheBudget) {
  RunOptions o;
  o.env = {{"PLEXUS_TRANSPORTS", "shm"},
           {"PLEXUS_TIMEOUT", "30"},
           {"PLEXUS_SHM_BUDGET", "1M"},
           {"PLEXUS_DEBUG", "INFO"},
           {"PLEXUS_DEBUG_SUBSYS", "INIT"}};
  auto out = runRanks(
      4,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<int32_t> buf(100003, rank + 1);
        RANK_NCCL(
            ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclInt32, ncclSum, comm, nullptr));
        for (int32_t v : buf) RANK_CHECK(v == 10, "got %d, expected 1+2+3+4", v);
        RANK_NCCL(ncclCommDestroy(comm));
        return 0;
      },
      o);
  EXPECT_EQ(describeFailures(out), "");
  for (const auto& r : out)
    EXPECT_TRUE(contains(r.output,
                         "4 ranks on one host: FIFOs of 8 slots of 4096 bytes instead "
                         "of 8 of 131072"))
        << r.output;
}

}  // namespace
}  // namespace plexus::testing
