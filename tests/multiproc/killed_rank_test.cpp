// A rank SIGKILLed in the middle of a collective, on every transport of the list
// (transport_list.cpp): every survivor fails within seconds with an error naming the lost rank,
// also when the ranks are forked by a program of our own that does not reap the dead one while it
// is inside a collective; and SIGKILL of every rank of a job, at any moment from connection set-up
// to the middle of an all-reduce, leaves no process and nothing in /dev/shm (the fixture checks
// both after each test).
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

#include "../common/shared_board.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

using Clock = std::chrono::steady_clock;

class KilledRank : public OnEveryTransport {};

TEST_P(KilledRank, EveryOtherRankFailsNamingIt) {
  auto t0 = Clock::now();
  auto out = runRanks(
      4,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<float> buf(1 << 20, 1.0f);
        // Rank 2 dies after its first all-reduce. A peer may still be in that one (a killed
        // process's unsent data dies with it), so any of the calls may fail.
        for (int i = 0; i < 100; ++i) {
          if (i == 1 && rank == 2) raise(SIGKILL);
          ncclResult_t r = ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum,
                                         comm, nullptr);
          if (r != ncclSuccess) {
            RANK_CHECK(r == ncclRemoteError, "result %d", r);
            std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
            ncclResult_t async = ncclSuccess;
            RANK_NCCL(ncclCommGetAsyncError(comm, &async));
            RANK_CHECK(async == ncclRemoteError, "async error %d", async);
            ncclCommAbort(comm);
            return 0;
          }
        }
        std::fprintf(stderr, "no error after the peer died\n");
        return 1;
      },
      optionsFor(transport(), 60));
  auto elapsed = Clock::now() - t0;
  EXPECT_EQ(out[2].exitCode, 128 + SIGKILL);
  for (int r : {0, 1, 3}) {
    const auto& o = out[static_cast<size_t>(r)];
    EXPECT_EQ(o.exitCode, 0) << o.output;
    // Every survivor names the lost rank: directly, or through the abort reason its neighbour
    // passed on.
    EXPECT_TRUE(contains(o.output, "ERROR: ")) << o.output;
    EXPECT_TRUE(contains(o.output, "rank 2 (host")) << o.output;
    size_t at = o.output.find("ERROR: ");
    if (at != std::string::npos)
      std::printf("rank %d: %s\n", r, o.output.substr(at, o.output.find('\n', at) - at).c_str());
  }
  EXPECT_LT(elapsed, std::chrono::seconds(30));
  // The errors name the transport the list selected (or, for collectives on the mapped executor,
  // that executor): the run did not go over another one.
  const auto& env = transport().env;
  const std::string over = env.count("PLEXUS_EXECUTOR") != 0
                               ? "on the " + env.at("PLEXUS_EXECUTOR") + " executor"
                               : "over " + env.at("PLEXUS_TRANSPORTS");
  EXPECT_TRUE(contains(out[0].output + out[1].output + out[3].output, over))
      << "no survivor's error says \"" << over << "\"";
}

// Shared between the processes of one test (mapped before fork).
struct Board {
  std::atomic<int64_t> killedAtNs{0};  // steady clock of the kill
  std::atomic<int> pids[8];
  std::atomic<int> idReady{0};  // 1 once `id` is written, -1 if making it failed
  ncclUniqueId id;
};

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

// Rank 0 of the self-forked job: forks ranks 1..3, runs, then reaps them.
int selfForkedJob(Board* board) {
  constexpr int kRanks = 4;
  // Children first, while this process has one thread (the unique id starts the bootstrap root's
  // thread here); they wait for the id on the board.
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
  // The parent is rank 0 and reaps its children only after its own collective failed: the killed
  // rank stays a zombie meanwhile.
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
}

TEST_P(KilledRank, NamedByEverySurvivorWithinSecondsWhileAZombie) {
  Board* board = plexus::test::newShared<Board>();
  RunOptions o = optionsFor(transport(), 60);
  o.rank0MakesId = false;
  auto out = runRanks(
      1, [board](int, int, const ncclUniqueId&) { return selfForkedJob(board); }, o);
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
  plexus::test::deleteShared(board);
}

// Rank 0's helper thread SIGKILLs every rank (itself last) `delayMs` after init, while the main
// threads all-reduce: from connection set-up (0 ms) to the middle of the data.
TEST_P(KilledRank, KillingEveryRankLeavesNothingBehind) {
  const std::set<std::string> before = devShmEntries();
  for (int delayMs : {0, 1, 5, 30, 200}) {
    Board* board = plexus::test::newShared<Board>();
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
        optionsFor(transport(), 30));
    for (int r = 0; r < 4; ++r)
      EXPECT_EQ(out[static_cast<size_t>(r)].exitCode, 128 + SIGKILL)
          << "delay " << delayMs << " ms, rank " << r << ": " << out[static_cast<size_t>(r)].output;
    EXPECT_EQ(leftInDevShm(before), std::set<std::string>{})
        << "after SIGKILL of every rank " << delayMs << " ms after init";
    plexus::test::deleteShared(board);
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, KilledRank, ::testing::ValuesIn(transportList()),
                         transportName);

}  // namespace
}  // namespace plexus::testing
