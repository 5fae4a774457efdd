// Abort and asynchronous errors, on every transport of the list (transport_list.cpp):
// - ncclCommAbort (and the C++ Communicator::abort) called from another thread while every rank is
//   blocked in an operation that cannot finish returns within seconds on every rank (PLEXUS_TIMEOUT
//   is 60 s: an abort that waited for it fails the test), the blocked call returns an error, the
//   process has as many descriptors and threads as before the communicator existed, and a new
//   communicator then runs an exact all-reduce;
// - ncclCommGetAsyncError answers at once while an operation is blocked, and reports the error
//   after one;
// - ncclCommFinalize and ncclCommDestroy are prompt and clean after an error.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "../common/shared_board.hpp"
#include "plexus/plexus.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Shared by the rank processes of one test (mapped before fork).
struct Board {
  std::atomic<int> blocked{0};   // ranks inside their blocking call
  std::atomic<int> queried{0};   // ranks that asked for the async error (before any abort)
  std::atomic<int> idReady{0};   // 1 once `id` (the second communicator's) is written
  std::atomic<int> released{0};  // FinalizeAndDestroy: the idle rank may go on
  ncclUniqueId id;
};

double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int countEntries(const char* dir) {
  int n = 0;
  if (DIR* d = opendir(dir)) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

bool mentionsAbort(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s.find("abort") != std::string::npos;
}

bool waitFor(const std::atomic<int>& value, int target, double seconds) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (value.load() < target) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A new communicator (rank 0 makes its id) and an exact all-reduce of integers on it.
int exactAllReduceOnANewComm(int rank, int n, Board* board) {
  if (rank == 0) {
    RANK_NCCL(ncclGetUniqueId(&board->id));
    board->idReady.store(1);
  }
  RANK_CHECK(waitFor(board->idReady, 1, 30), "no id for the second communicator");
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, board->id, rank));
  std::vector<int32_t> buf(4099);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<int32_t>(i) * (rank + 1);
  RANK_NCCL(ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclInt32, ncclSum, comm, nullptr));
  const int32_t factor = n * (n + 1) / 2;
  for (size_t i = 0; i < buf.size(); ++i)
    RANK_CHECK(buf[i] == static_cast<int32_t>(i) * factor, "element %zu: %d, expected %d", i,
               buf[i], static_cast<int32_t>(i) * factor);
  RANK_NCCL(ncclCommDestroy(comm));
  return 0;
}

// Every rank but the last all-reduces; the last waits for a message rank 0 never sends: all are
// blocked in an operation that cannot finish.
ncclResult_t blockedCall(int rank, int n, ncclComm_t comm, std::vector<float>& buf) {
  if (rank == n - 1) return ncclRecv(buf.data(), buf.size(), ncclFloat32, 0, comm, nullptr);
  return ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr);
}

int abortFromAnotherThread(int rank, int n, const ncclUniqueId& id, Board* board) {
  const int fdsBefore = countEntries("/proc/self/fd");
  const int threadsBefore = countEntries("/proc/self/task");
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  std::vector<float> buf(1 << 20, 1.0f);
  RANK_NCCL(ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr));
  double queryTook = -1, abortTook = -1;
  ncclResult_t async = ncclInternalError, aborted = ncclInternalError;
  std::thread watchdog([&] {
    if (!waitFor(board->blocked, n, 30)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // well inside the call
    auto t0 = Clock::now();
    ncclCommGetAsyncError(comm, &async);
    queryTook = secondsSince(t0);
    board->queried.fetch_add(1);
    waitFor(board->queried, n, 30);  // no rank aborts before every rank has asked
    t0 = Clock::now();
    aborted = ncclCommAbort(comm);
    abortTook = secondsSince(t0);
  });
  board->blocked.fetch_add(1);
  const auto t0 = Clock::now();
  const ncclResult_t r = blockedCall(rank, n, comm, buf);
  const double blockedFor = secondsSince(t0);
  const std::string error = ncclGetLastError(nullptr);  // the handle is gone: the thread's error
  watchdog.join();
  std::fprintf(stderr,
               "ABORT rank %d: abort took %.3f s, async-error query %.4f s, the call "
               "returned %d after %.3f s: %s\n",
               rank, abortTook, queryTook, r, blockedFor, error.c_str());
  RANK_CHECK(aborted == ncclSuccess, "ncclCommAbort returned %d", aborted);
  RANK_CHECK(async == ncclSuccess, "async error %d while the call was only blocked", async);
  RANK_CHECK(queryTook >= 0 && queryTook < 2.0, "ncclCommGetAsyncError took %.3f s", queryTook);
  RANK_CHECK(abortTook >= 0 && abortTook < 5.0, "ncclCommAbort took %.3f s", abortTook);
  RANK_CHECK(r != ncclSuccess, "the blocked call succeeded after the abort");
  RANK_CHECK(mentionsAbort(error), "error without 'abort': %s", error.c_str());
  // Everything the communicator owned is gone (rank 0 also runs the bootstrap root, whose
  // connections end as the ranks leave).
  if (rank != 0) {
    RANK_CHECK(countEntries("/proc/self/fd") == fdsBefore, "descriptors: %d before, %d after",
               fdsBefore, countEntries("/proc/self/fd"));
    RANK_CHECK(countEntries("/proc/self/task") == threadsBefore, "threads: %d before, %d after",
               threadsBefore, countEntries("/proc/self/task"));
  }
  return exactAllReduceOnANewComm(rank, n, board);
}

int cppAbortFromAnotherThread(int rank, int n, const ncclUniqueId& id, Board* board) {
  UniqueId uid;
  std::memcpy(uid.bytes.data(), id.internal, uid.bytes.size());
  double abortTook = -1;
  std::string error;
  {
    Communicator comm = Communicator::init(uid, rank, n);
    std::vector<float> buf(1 << 20, 1.0f);
    std::thread watchdog([&] {
      if (!waitFor(board->blocked, n, 30)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const auto t0 = Clock::now();
      comm.abort();
      abortTook = secondsSince(t0);
    });
    board->blocked.fetch_add(1);
    try {
      if (rank == n - 1)
        comm.recv(buf.data(), buf.size(), DataType::kFloat32, 0, false).wait();
      else
        comm.allReduce(std::span<float>(buf));
    } catch (const Error& e) {
      error = e.what();
    }
    watchdog.join();
  }  // the communicator is destroyed here
  std::fprintf(stderr, "ABORT rank %d: Communicator::abort took %.3f s; the call threw: %s\n", rank,
               abortTook, error.c_str());
  RANK_CHECK(abortTook >= 0 && abortTook < 5.0, "Communicator::abort took %.3f s", abortTook);
  RANK_CHECK(mentionsAbort(error), "error: '%s'", error.c_str());
  return exactAllReduceOnANewComm(rank, n, board);
}

// The last rank stays out of the all-reduce until the others failed (PLEXUS_TIMEOUT of 2 s); then
// it fails too. Every rank then finalizes and destroys, promptly.
int finalizeAndDestroyAfterAnError(int rank, int n, const ncclUniqueId& id, Board* board) {
  ncclComm_t comm;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  std::vector<float> buf(1 << 16, 1.0f);
  if (rank == n - 1) RANK_CHECK(waitFor(board->released, n - 1, 60), "the others did not fail");
  ncclResult_t r =
      ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr);
  if (rank != n - 1) board->released.fetch_add(1);
  RANK_CHECK(r != ncclSuccess, "the all-reduce succeeded without rank %d", n - 1);
  auto t0 = Clock::now();
  ncclResult_t async = ncclSuccess;
  RANK_NCCL(ncclCommGetAsyncError(comm, &async));
  const double queryTook = secondsSince(t0);
  RANK_CHECK(async == ncclRemoteError, "async error %d after the failure", async);
  t0 = Clock::now();
  const ncclResult_t finalized = ncclCommFinalize(comm);
  const double finalizeTook = secondsSince(t0);
  t0 = Clock::now();
  const ncclResult_t destroyed = ncclCommDestroy(comm);
  const double destroyTook = secondsSince(t0);
  std::fprintf(stderr,
               "AFTER ERROR rank %d: async error %d (%.4f s), finalize %d (%.3f s), destroy %d "
               "(%.3f s)\n",
               rank, async, queryTook, finalized, finalizeTook, destroyed, destroyTook);
  RANK_CHECK(queryTook < 2.0, "ncclCommGetAsyncError took %.3f s", queryTook);
  RANK_CHECK(finalized == ncclSuccess || finalized == ncclRemoteError, "finalize: %d", finalized);
  RANK_CHECK(destroyed == ncclSuccess, "destroy: %d", destroyed);
  RANK_CHECK(finalizeTook < 5.0 && destroyTook < 5.0, "finalize %.3f s, destroy %.3f s",
             finalizeTook, destroyTook);
  return 0;
}

class Abort : public OnEveryTransport {
 protected:
  void run(int (*body)(int, int, const ncclUniqueId&, Board*), int timeoutSeconds) {
    Board* board = plexus::test::newShared<Board>();
    auto out = runRanks(
        3, [&](int rank, int n, const ncclUniqueId& id) { return body(rank, n, id, board); },
        optionsFor(transport(), timeoutSeconds));
    plexus::test::deleteShared(board);
    EXPECT_EQ(describeFailures(out), "");
    for (const auto& o : out)
      for (const char* tag : {"ABORT rank", "AFTER ERROR rank"}) {
        size_t at = o.output.find(tag);
        if (at != std::string::npos)
          std::printf("%s\n", o.output.substr(at, o.output.find('\n', at) - at).c_str());
      }
  }
};

TEST_P(Abort, NcclCommAbortFromAnotherThreadIsPromptAndFreesAll) {
  run(abortFromAnotherThread, 60);
}

TEST_P(Abort, CppAbortFromAnotherThreadIsPrompt) {
  run(cppAbortFromAnotherThread, 60);
}

TEST_P(Abort, FinalizeAndDestroyAreCleanAfterAnError) {
  run(finalizeAndDestroyAfterAnError, 3);
}

INSTANTIATE_TEST_SUITE_P(Transports, Abort, ::testing::ValuesIn(transportList()), transportName);

}  // namespace
}  // namespace plexus::testing
