// The flight recorder (src/runtime/flight_recorder.hpp) and plexus-trace:
// - 8 ranks all-reduce in a loop over shm; the test SIGSTOPs rank 7 in the middle of it. With a
//   short PLEXUS_TIMEOUT the 7 others fail and dump; merged, their dumps name rank 7 as the suspect
//   (missing, waited for) and the all-reduce each is in. Then SIGUSR1 and SIGCONT make rank 7 dump
//   too, and the plexus-trace tool merges all eight (the report docs/reliability.md shows);
// - a fatal signal (SIGTERM) dumps before the process dies of it;
// - SIGUSR1 dumps a healthy communicator, which goes on working, and the watcher thread is joined
//   when the communicator is destroyed.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../common/shared_board.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"
#include "trace_merge.hpp"

namespace plexus::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kRanks = 8;
constexpr int kStopped = 7;

struct Board {
  std::atomic<int> pids[kRanks];
  std::atomic<int> iterations[kRanks];
};

// A fresh folder under /tmp, removed with everything in it when the test ends.
struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/plexus-fr-test-XXXXXX";
    path = mkdtemp(name);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<trace::Dump> readDumpDir(const std::string& dir) {
  std::vector<trace::Dump> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    auto got = trace::readDumps(in, e.path().string());
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

int countJson(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".json";
  return n;
}

bool waitUntil(const std::function<bool()>& done, double seconds) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// All-reduces until an error; each result is checked exactly.
int allReduceUntilError(int rank, int n, const ncclUniqueId& id, Board* board) {
  board->pids[rank].store(static_cast<int>(getpid()));
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  std::vector<int32_t> buf(1 << 20);
  for (int i = 0; i < 1000000; ++i) {
    std::fill(buf.begin(), buf.end(), rank + 1);
    ncclResult_t r =
        ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclInt32, ncclSum, comm, nullptr);
    if (r != ncclSuccess) {
      std::fprintf(stderr, "ERROR rank %d at iteration %d: %s\n", rank, i, ncclGetLastError(comm));
      ncclCommAbort(comm);
      return 0;
    }
    const int32_t want = n * (n + 1) / 2;
    RANK_CHECK(buf.front() == want && buf.back() == want, "iteration %d: %d/%d, expected %d", i,
               buf.front(), buf.back(), want);
    board->iterations[rank].store(i + 1);
  }
  return 1;
}

std::string runTraceTool(const std::string& dir) {
  std::string out;
  FILE* p = popen((std::string(PLEXUS_TRACE_BIN) + " " + dir + " 2>&1").c_str(), "r");
  if (p == nullptr) return "cannot run " PLEXUS_TRACE_BIN;
  char chunk[4096];
  while (size_t got = fread(chunk, 1, sizeof(chunk), p)) out.append(chunk, got);
  pclose(p);
  return out;
}

TEST(FlightRecorder, StoppedRankIsNamedByTheMergedReport) {
  const std::set<std::string> shmBefore = devShmEntries();
  TempDir dumps;
  Board* board = plexus::test::newShared<Board>();
  RunOptions o = optionsFor(transportNamed("shm"), 4);
  o.env["PLEXUS_DUMP_DIR"] = dumps.path;
  o.env["PLEXUS_DUMP_ON"] = "error,usr1";
  o.timeoutSeconds = 120;
  std::map<std::string, trace::Report> survivors;
  int stoppedAfter = -1;
  std::thread controller([&] {
    auto started = [&] { return board->iterations[kStopped].load() >= 20; };
    if (!waitUntil(started, 60)) return;
    const int pid = board->pids[kStopped].load();
    kill(pid, SIGSTOP);  // most of an iteration is inside the all-reduce
    stoppedAfter = board->iterations[kStopped].load();
    if (waitUntil([&] { return countJson(dumps.path) >= kRanks - 1; }, 60)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // renames are atomic; be sure
      survivors = trace::merge(readDumpDir(dumps.path));
    }
    kill(pid, SIGUSR1);  // pending until it runs again
    kill(pid, SIGCONT);
  });
  auto out = runRanks(
      kRanks,
      [board](int rank, int n, const ncclUniqueId& id) {
        return allReduceUntilError(rank, n, id, board);
      },
      o);
  controller.join();
  EXPECT_EQ(describeFailures(out), "");
  ASSERT_GE(stoppedAfter, 20) << "rank 7 never got going";

  // The survivors' view: rank 7 is missing and waited for; each survivor is in an all-reduce.
  ASSERT_EQ(survivors.size(), 1u);
  const trace::Report& seven = survivors.begin()->second;
  const std::string text = trace::formatText(seven);
  std::printf("merged report of the 7 survivors:\n%s\n", text.c_str());
  EXPECT_EQ(seven.missing, std::vector<int>{kStopped}) << text;
  ASSERT_FALSE(seven.suspects.empty()) << text;
  EXPECT_EQ(seven.suspects.front(), kStopped) << text;
  EXPECT_NE(text.find("suspect: rank 7 (no dump"), std::string::npos) << text;
  for (int r = 0; r < kRanks - 1; ++r) {
    ASSERT_EQ(seven.ranks.count(r), 1u) << text;
    const trace::Op* op = seven.ranks.at(r).current();
    ASSERT_NE(op, nullptr) << "rank " << r << "\n" << text;
    EXPECT_EQ(op->collective, "allreduce") << text;
    // Rank 7 was stopped in iteration stoppedAfter (seq = iteration) or, between two calls, just
    // before it; the others are at most one all-reduce ahead of it.
    EXPECT_GE(op->seq + 1, static_cast<uint64_t>(stoppedAfter)) << text;
    EXPECT_LE(op->seq, static_cast<uint64_t>(stoppedAfter) + 1) << text;
  }

  // All eight, rank 7's own dump included (SIGUSR1, or its error once it ran again).
  const std::string report = runTraceTool(dumps.path);
  std::printf("plexus-trace %s:\n%s\n", dumps.path.c_str(), report.c_str());
  EXPECT_NE(report.find("8 dumps; missing: none"), std::string::npos) << report;
  EXPECT_NE(report.find("  rank 7 (host"), std::string::npos) << report;
  EXPECT_NE(report.find("allreduce seq"), std::string::npos) << report;
  plexus::test::deleteShared(board);
  EXPECT_EQ(leftInDevShm(shmBefore), std::set<std::string>{});
  EXPECT_EQ(childProcesses(), std::vector<int>{});
}

TEST(FlightRecorder, FatalSignalDumpsThenDies) {
  TempDir dumps;
  RunOptions o = optionsFor(transportNamed("shm"), 30);
  o.env["PLEXUS_DUMP_DIR"] = dumps.path;
  o.env["PLEXUS_DUMP_ON"] = "fatal";
  auto out = runRanks(
      2,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<float> buf(1000, 1.0f);
        for (int i = 0; i < 3; ++i)
          RANK_NCCL(ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm,
                                  nullptr));
        raise(SIGTERM);
        return 1;
      },
      o);
  for (const auto& r : out) EXPECT_EQ(r.exitCode, 128 + SIGTERM) << r.output;
  auto all = readDumpDir(dumps.path);
  ASSERT_EQ(all.size(), 2u);
  for (const auto& d : all) {
    EXPECT_EQ(d.reason, "fatal signal 15");
    ASSERT_EQ(d.ops.size(), 3u);
    EXPECT_EQ(d.ops.back().seq, 2u);
    EXPECT_EQ(d.ops.back().state, "done");
    EXPECT_EQ(d.ops.back().stepsDone, d.ops.back().stepsTotal);
  }
}

int countTasks() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Raises SIGUSR1 and waits (30 s at most) for this rank's dump to appear in `dir`.
bool dumpOnUsr1(const std::string& dir, int rank) {
  raise(SIGUSR1);
  const std::string mine = "-r" + std::to_string(rank) + "-";
  return waitUntil(
      [&] {
        for (const auto& e : fs::directory_iterator(dir))
          if (e.path().extension() == ".json" &&
              e.path().filename().string().find(mine) != std::string::npos)
            return true;
        return false;
      },
      30);
}

// Runs `body` on 2 ranks over shm, dumping on SIGUSR1 into a fresh folder (its path passed to
// the body) with `env` added; expects every rank to succeed and returns the two dumps.
std::vector<trace::Dump> twoRanksDumpingOnUsr1(
    const std::function<int(int, int, const ncclUniqueId&, const std::string&)>& body,
    const std::map<std::string, std::string>& env = {}) {
  TempDir dumps;
  RunOptions o = optionsFor(transportNamed("shm"), 30);
  o.env.insert(env.begin(), env.end());
  o.env["PLEXUS_DUMP_DIR"] = dumps.path;
  o.env["PLEXUS_DUMP_ON"] = "usr1";
  const std::string dir = dumps.path;
  auto out = runRanks(
      2, [&](int rank, int n, const ncclUniqueId& id) { return body(rank, n, id, dir); }, o);
  EXPECT_EQ(describeFailures(out), "");
  auto all = readDumpDir(dumps.path);
  EXPECT_EQ(all.size(), 2u);
  return all;
}

TEST(FlightRecorder, Usr1DumpsAHealthyCommunicatorThatGoesOn) {
  auto all = twoRanksDumpingOnUsr1([](int rank, int n, const ncclUniqueId& id,
                                      const std::string& dir) {
    const int tasksBefore = countTasks();
    ncclComm_t comm;
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    std::vector<int32_t> buf(777, rank + 1);
    RANK_NCCL(ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclInt32, ncclSum, comm, nullptr));
    RANK_CHECK(dumpOnUsr1(dir, rank), "no dump after SIGUSR1");
    RANK_NCCL(ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclInt32, ncclSum, comm, nullptr));
    RANK_CHECK(buf[0] == 6 && buf[776] == 6, "%d %d", buf[0], buf[776]);
    RANK_NCCL(ncclCommDestroy(comm));
    RANK_CHECK(countTasks() <= tasksBefore, "threads: %d before, %d after", tasksBefore,
               countTasks());
    return 0;
  });
  for (const auto& d : all) {
    EXPECT_EQ(d.reason, "SIGUSR1");
    ASSERT_GE(d.ops.size(), 1u);
    EXPECT_EQ(d.ops.front().collective, "allreduce");
  }
}

// An all-reduce that ran zero copy (every rank's buffers from ncclMemAlloc, the default auto) is
// recorded as "zerocopy" with no steps; one on plain buffers keeps its plan's algorithm and steps.
TEST(FlightRecorder, ZeroCopyCallsAreNamedSo) {
  auto all = twoRanksDumpingOnUsr1(
      [](int rank, int n, const ncclUniqueId& id, const std::string& dir) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        const size_t count = 100000;  // 400 KB
        void* shared = nullptr;
        RANK_NCCL(ncclMemAlloc(&shared, count * sizeof(int32_t)));
        auto* a = static_cast<int32_t*>(shared);
        std::fill(a, a + count, rank + 1);
        RANK_NCCL(ncclAllReduce(a, a, count, ncclInt32, ncclSum, comm, nullptr));
        RANK_CHECK(a[0] == 3 && a[count - 1] == 3, "zero copy: %d %d", a[0], a[count - 1]);
        std::vector<int32_t> plain(count, rank + 1);
        RANK_NCCL(
            ncclAllReduce(plain.data(), plain.data(), count, ncclInt32, ncclSum, comm, nullptr));
        RANK_CHECK(plain[0] == 3 && plain[count - 1] == 3, "slots: %d %d", plain[0],
                   plain[count - 1]);
        RANK_CHECK(dumpOnUsr1(dir, rank), "no dump after SIGUSR1");
        RANK_NCCL(ncclCommDestroy(comm));
        RANK_NCCL(ncclMemFree(shared));
        return 0;
      },
      {{"PLEXUS_SINGLE_COPY", "auto"}, {"PLEXUS_SINGLE_COPY_MIN", "64K"}});
  for (const auto& d : all) {
    ASSERT_EQ(d.ops.size(), 2u) << d.source;
    const trace::Op& zero = d.ops[0].id < d.ops[1].id ? d.ops[0] : d.ops[1];
    const trace::Op& slots = d.ops[0].id < d.ops[1].id ? d.ops[1] : d.ops[0];
    EXPECT_EQ(zero.algorithm, "zerocopy") << d.source;
    EXPECT_EQ(zero.stepsTotal, 0) << d.source;
    EXPECT_EQ(zero.state, "done") << d.source;
    EXPECT_NE(slots.algorithm, "zerocopy") << d.source;
    EXPECT_GT(slots.stepsTotal, 0) << d.source;
    EXPECT_EQ(slots.stepsDone, slots.stepsTotal) << d.source;
  }
}

}  // namespace
}  // namespace plexus::testing
