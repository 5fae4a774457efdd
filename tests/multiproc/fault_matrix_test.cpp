// The fault matrix: on every transport of the list, rank 1 of 3 is SIGKILLed, SIGSTOPped (a hung
// peer) or has all its sockets shut down, at init (after it joined the bootstrap, before the others
// start), in the middle of all-reduces, or at teardown (after its finalize, before the others'
// finalize and destroy). Every survivor must end its call within PLEXUS_TIMEOUT (4 s here) plus
// slack, with an error naming rank 1 and its host (at teardown, success is right too: there is
// nothing left to wait for), and after abort/destroy hold no descriptor and no thread it did not
// hold before init; the fixture checks /dev/shm and that no process is left. A kill or close at
// init must end in less than half of PLEXUS_TIMEOUT (30 s there), with an error that says rank 1
// is gone.
//
// Each case prints one row of the table in docs/reliability.md ("FAULT-MATRIX|..." on stdout; with
// PLEXUS_FAULT_MATRIX_OUT set, also appended to that file): tests/multiproc/fault_matrix_table.sh
// runs the cases and collects the rows.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../common/shared_board.hpp"
#include "tests/multiproc/fault_matrix_test.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

using namespace faults;

constexpr int kRanks = 3;
constexpr int kVictim = 1;
constexpr int kTimeoutSeconds = 4;  // PLEXUS_TIMEOUT of the ranks
// PLEXUS_TIMEOUT of the ranks for a kill or close at init: there the survivors must fail fast (a
// refused bootstrap listener means its rank is gone), in less than half of it.
constexpr int kInitLossTimeoutSeconds = 30;
constexpr double kSlackSeconds = 8;  // a loaded 2-core machine, sanitizers
constexpr size_t kCount = 1 << 16;   // int32 elements per all-reduce
constexpr int kMidCalls = 200;       // all-reduces of the mid phase (the fault comes at the third)

struct Case {
  TransportSetup transport;
  Fault fault;
  Phase phase;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.transport.name << "_" << faultName(c.fault) << "_" << phaseName(c.phase);
}

std::vector<Case> allCases() {
  std::vector<Case> cases;
  for (const TransportSetup& t : transportList())
    for (Fault f : {Fault::kKill, Fault::kStop, Fault::kClose})
      for (Phase p : {Phase::kInit, Phase::kMid, Phase::kTeardown}) cases.push_back({t, f, p});
  return cases;
}

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.transport.name + "_" + faultName(info.param.fault) + "_" +
         phaseName(info.param.phase);
}

const char* resultName(ncclResult_t r) {
  switch (r) {
    case ncclSuccess:
      return "ncclSuccess";
    case ncclUnhandledCudaError:
      return "ncclUnhandledCudaError";
    case ncclSystemError:
      return "ncclSystemError";
    case ncclInternalError:
      return "ncclInternalError";
    case ncclInvalidArgument:
      return "ncclInvalidArgument";
    case ncclInvalidUsage:
      return "ncclInvalidUsage";
    case ncclRemoteError:
      return "ncclRemoteError";
    case ncclInProgress:
      return "ncclInProgress";
    default:
      return "ncclResult?";
  }
}

// One line a rank prints about how its call ended: "OUTCOME <seconds> <result>: <error text>".
void report(double seconds, ncclResult_t r, ncclComm_t comm) {
  std::string text = r == ncclSuccess ? "completed" : ncclGetLastError(comm);
  for (char& ch : text)
    if (ch == '\n') ch = ' ';
  std::fprintf(stderr, "OUTCOME %.3f %s: %s\n", seconds, resultName(r), text.c_str());
}

bool waitFor(const std::atomic<int64_t>& v, int seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (v.load() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return v.load() != 0;
}

// Checked all-reduces until one fails (or `iterations` pass); `iter` counts the calls started.
ncclResult_t allReduces(ncclComm_t comm, int rank, int n, int iterations,
                        std::atomic<int>* iter = nullptr) {
  std::vector<int32_t> buf(kCount);
  for (int i = 0; i < iterations; ++i) {
    if (iter != nullptr) iter->store(i);
    for (size_t k = 0; k < kCount; ++k) buf[k] = rank + i + static_cast<int32_t>(k);
    ncclResult_t r =
        ncclAllReduce(buf.data(), buf.data(), kCount, ncclInt32, ncclSum, comm, nullptr);
    if (r != ncclSuccess) return r;
    for (size_t k = 0; k < kCount; ++k) {
      const int32_t want = n * (i + static_cast<int32_t>(k)) + n * (n - 1) / 2;
      if (buf[k] != want) {
        std::fprintf(stderr, "WRONG all-reduce %d element %zu: %d, want %d\n", i, k, buf[k], want);
        return ncclInternalError;
      }
    }
  }
  return ncclSuccess;
}

// The victim: joins, then is hit at the case's phase. Returns only when the fault leaves it alive
// (kClose), with 0 once it reported how its own calls ended.
int victimBody(const Case& c, int n, const ncclUniqueId& id, Board* board) {
  board->victimPid.store(static_cast<int>(getpid()));
  ncclComm_t comm = nullptr;
  if (c.phase == Phase::kInit) {
    // Hit once its bootstrap listener and root connection exist (its hello is sent): the others
    // start only after that, so it is inside init for them.
    const int sockets = countSockets();
    std::thread([&c, board, sockets] {
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (countSockets() < sockets + 2 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      inject(c.fault, board);
    }).detach();
    const int64_t t0 = nowNs();
    ncclResult_t r = ncclCommInitRank(&comm, n, id, kVictim);
    report(secondsSince(t0), r, nullptr);
    if (r == ncclSuccess) ncclCommAbort(comm);
    return 0;
  }
  RANK_NCCL(ncclCommInitRank(&comm, n, id, kVictim));
  if (c.phase == Phase::kMid) {
    std::atomic<int> iter{-1};
    std::thread hitter([&] {
      while (iter.load() < 2) std::this_thread::sleep_for(std::chrono::microseconds(200));
      inject(c.fault, board);
    });
    ncclResult_t r = allReduces(comm, kVictim, n, kMidCalls, &iter);
    iter.store(1 << 20);
    hitter.join();
    report(secondsSince(board->faultAtNs.load()), r, comm);
    ncclCommAbort(comm);
    return 0;
  }
  RANK_NCCL(static_cast<ncclResult_t>(allReduces(comm, kVictim, n, 3)));
  RANK_NCCL(ncclCommFinalize(comm));
  inject(c.fault, board);
  const int64_t t0 = nowNs();
  ncclResult_t r = ncclCommDestroy(comm);
  report(secondsSince(t0), r, nullptr);
  return 0;
}

// A survivor: meets the lost rank at the case's phase and reports how its call ended, then checks
// that abort/destroy gave back every descriptor and thread.
int survivorBody(const Case& c, int rank, int n, const ncclUniqueId& id, Board* board) {
  const Holdings before = holdings();
  ncclComm_t comm = nullptr;
  ncclResult_t r = ncclSuccess;
  int64_t t0 = 0;
  bool haveComm = true;
  if (c.phase == Phase::kInit) {
    RANK_CHECK(waitFor(board->faultAtNs, 30), "the victim was never hit");
    t0 = nowNs();
    r = ncclCommInitRank(&comm, n, id, rank);
    haveComm = r == ncclSuccess;
    // Should init pass after all, the first collective meets the loss.
    if (r == ncclSuccess) r = allReduces(comm, rank, n, 1);
  } else {
    RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
    if (c.phase == Phase::kMid) {
      r = allReduces(comm, rank, n, kMidCalls);
      t0 = board->faultAtNs.load();
    } else {
      r = allReduces(comm, rank, n, 3);
      RANK_CHECK(r == ncclSuccess, "all-reduce before teardown failed");
      RANK_CHECK(waitFor(board->faultAtNs, 30), "the victim was never hit");
      t0 = nowNs();
      r = ncclCommFinalize(comm);
    }
  }
  report(secondsSince(t0), r, haveComm ? comm : nullptr);
  ncclResult_t end = !haveComm          ? ncclSuccess
                     : r == ncclSuccess ? ncclCommDestroy(comm)
                                        : ncclCommAbort(comm);
  RANK_CHECK(end == ncclSuccess, "%s failed: %s", r == ncclSuccess ? "destroy" : "abort",
             ncclGetLastError(nullptr));
  // A stopped victim stays stopped until the last survivor is done with it.
  if (board->survivorsDone.fetch_add(1) + 1 == n - 1 && c.fault == Fault::kStop)
    kill(board->victimPid.load(), SIGKILL);
  const std::string leaked = leakedSince(before);
  RANK_CHECK(leaked.empty(), "after %s this rank still holds:%s",
             r == ncclSuccess ? "destroy" : "abort", leaked.c_str());
  return 0;
}

// The OUTCOME line of a rank's output: seconds, and "result: text".
bool outcomeOf(const std::string& output, double* seconds, std::string* what) {
  size_t at = output.find("OUTCOME ");
  if (at == std::string::npos) return false;
  std::string line = output.substr(at + 8, output.find('\n', at) - at - 8);
  size_t space = line.find(' ');
  *seconds = std::stod(line.substr(0, space));
  *what = line.substr(space + 1);
  return true;
}

std::string thisHost() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::string h = host;
  return h.substr(0, h.find('.'));
}

// What a case finds new in /dev/shm afterwards counts when no live process holds it (every rank of
// the case has exited by then; a test of another kind may be running beside it).
class FaultMatrix : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const std::string why = unavailableReason(GetParam().transport);
    if (!why.empty()) GTEST_SKIP() << why;
    shmBefore_ = devShmEntries();
  }
  void TearDown() override {
    if (IsSkipped()) return;
    std::string names;
    for (const std::string& n : leftInDevShm(shmBefore_))
      if (!heldByALiveProcess("/dev/shm/" + n)) names += " /dev/shm/" + n;
    EXPECT_EQ(names, "") << GetParam().transport.name << ": the run left these behind";
    EXPECT_EQ(childProcesses(), std::vector<int>{}) << "rank processes still exist after the run";
  }

 private:
  std::set<std::string> shmBefore_;
};

TEST_P(FaultMatrix, SurvivorsFailNamingTheLostRankWithinTheTimeoutAndLeakNothing) {
  const Case c = GetParam();
  Board* board = plexus::test::newShared<Board>();
  const bool initLoss = c.phase == Phase::kInit && c.fault != Fault::kStop;
  const int plexusTimeout = initLoss ? kInitLossTimeoutSeconds : kTimeoutSeconds;
  RunOptions options = optionsFor(c.transport, plexusTimeout);
  options.timeoutSeconds = 90;
  auto out = runRanks(
      kRanks,
      [&c, board](int rank, int n, const ncclUniqueId& id) {
        return rank == kVictim ? victimBody(c, n, id, board) : survivorBody(c, rank, n, id, board);
      },
      options);
  plexus::test::deleteShared(board);
  // libfabric's tcp provider writes without MSG_NOSIGNAL: a victim whose sockets were shut down
  // may die of SIGPIPE there (Plexus's own sockets never raise it).
  const int victimExit = out[kVictim].exitCode;
  if (c.fault != Fault::kClose)
    EXPECT_EQ(victimExit, 128 + SIGKILL) << out[kVictim].output;
  else if (c.transport.plugin == "ofi")
    EXPECT_TRUE(victimExit == 0 || victimExit == 128 + SIGPIPE) << out[kVictim].output;
  else
    EXPECT_EQ(victimExit, 0) << out[kVictim].output;
  // A victim whose sockets were shut down lives on: it reports how its own calls ended. Where its
  // data path has no socket (shared memory), nothing is lost and every rank may complete.
  double victimSeconds = 0;
  std::string victim = c.fault == Fault::kKill ? "killed" : "stopped (killed after the test)";
  if (c.fault == Fault::kClose && victimExit == 128 + SIGPIPE) {
    victim = "killed by SIGPIPE inside libfabric";
  } else if (c.fault == Fault::kClose) {
    EXPECT_TRUE(outcomeOf(out[kVictim].output, &victimSeconds, &victim)) << out[kVictim].output;
  }
  const bool nothingLost = contains(victim, "ncclSuccess");
  std::string row;
  double worst = 0;
  for (int r = 0; r < kRanks; ++r) {
    if (r == kVictim) continue;
    const std::string& o = out[static_cast<size_t>(r)].output;
    EXPECT_EQ(out[static_cast<size_t>(r)].exitCode, 0) << "rank " << r << ":\n" << o;
    double seconds = 0;
    std::string what;
    ASSERT_TRUE(outcomeOf(o, &seconds, &what)) << "rank " << r << " reported nothing:\n" << o;
    // (Bounded when it is an error: completing all the calls takes what it takes.)
    if (initLoss) {
      EXPECT_LT(seconds, plexusTimeout / 2.0) << "rank " << r << ": " << what;
      EXPECT_TRUE(contains(what, "rank 1 (host " + thisHost()) && contains(what, "is gone"))
          << "rank " << r << " does not say that rank 1 (host " << thisHost()
          << ") is gone: " << what;
    } else if (!contains(what, "ncclSuccess")) {
      EXPECT_LT(seconds, kTimeoutSeconds + kSlackSeconds) << "rank " << r << ": " << what;
    }
    worst = std::max(worst, seconds);
    if (!contains(what, "ncclSuccess")) {
      // A hung peer: a survivor blocked on it may time out later than one blocked on that
      // survivor, and then report the first one's diagnosis, which names the survivor it waited
      // for (docs/reliability.md). It is a timeout that names a rank and host all the same.
      const bool hung = c.fault == Fault::kStop && contains(what, "PLEXUS_TIMEOUT");
      EXPECT_TRUE(contains(what, "rank 1") || hung)
          << "rank " << r << " does not name rank 1: " << what;
      // (Some transports name a peer's host by its address.)
      EXPECT_TRUE(contains(what, "host " + thisHost()) || contains(what, "127.0.0.1"))
          << "rank " << r << " does not name the host " << thisHost() << ": " << what;
    } else {
      EXPECT_TRUE(c.phase == Phase::kTeardown || nothingLost)
          << "rank " << r << " saw no error though rank 1 " << victim;
    }
    if (row.empty()) row = "rank " + std::to_string(r) + ": " + what;
  }
  row += "|victim: " + victim;
  char line[64];
  std::snprintf(line, sizeof(line), "%.2f s", worst);
  const std::string tableRow = std::string("FAULT-MATRIX|") + faultName(c.fault) + "|" +
                               c.transport.name + "|" + phaseName(c.phase) + "|" + line + "|" + row;
  std::printf("%s\n", tableRow.c_str());
  if (const char* file = std::getenv("PLEXUS_FAULT_MATRIX_OUT"))
    std::ofstream(file, std::ios::app) << tableRow << "\n";
}

INSTANTIATE_TEST_SUITE_P(Cases, FaultMatrix, ::testing::ValuesIn(allCases()), caseName);

}  // namespace
}  // namespace plexus::testing
