// The worst moment for a peer of the ofi transport over libfabric's shm provider to die or stop:
// while it holds a region lock. The provider spins on those locks (the receiver's, in fi_tsend; a
// rank's own, in fi_cq_read and fi_trecv; transports/ofi/ofi_shm_guard.hpp), so a survivor that
// enters it then spins for good, out of reach of PLEXUS_TIMEOUT. The fault matrix meets that moment
// by chance; here rank 1 of 3 makes it certain: in the middle of all-reduces it takes the region
// lock of its own endpoint, or of rank 0's, exactly as the provider does (pthread_spin_lock on the
// region's lock in /dev/shm), and is SIGKILLed or SIGSTOPped with the lock held. Every survivor
// must still fail within PLEXUS_TIMEOUT plus slack: naming rank 1 when it was killed, with the
// PLEXUS_TIMEOUT diagnosis when it was stopped; and abort must give back everything.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../common/shared_board.hpp"
#include "nccl.h"
#include "tests/multiproc/fault_matrix_test.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"
#include "transports/ofi/smr_region_head.hpp"

namespace plexus::testing {
namespace {

using namespace faults;

constexpr int kRanks = 3;
constexpr int kVictim = 1;
constexpr int kTimeoutSeconds = 4;
constexpr double kSlackSeconds = 8;
constexpr size_t kCount = 1 << 14;
constexpr int kCalls = 400;

enum class Whose { kVictims, kRank0s };

struct Case {
  Fault fault;
  Whose whose;
};

struct LockBoard {
  Board board;
  std::atomic<int> pids[kRanks] = {};
  std::atomic<int> lockTaken{0};  // 1: rank 1 found the region and holds its lock
};

using RegionHead = transport::SmrRegionHead;

// Takes the lock of the shm region that process `pid` created; false if there is none (another
// libfabric). The mapping stays: the lock is held until this process is gone.
bool takeRegionLockOf(int pid) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = e.path().filename().string();
    std::error_code sizeError;
    if (e.file_size(sizeError) < 4096 || sizeError) continue;
    int fd = shm_open(name.c_str(), O_RDWR, 0);
    if (fd < 0) continue;
    void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) continue;
    auto* head = static_cast<RegionHead*>(m);
    if (head->version == 4 && head->pid == pid) {
      pthread_spin_lock(&head->lock);
      return true;
    }
    munmap(m, 4096);
  }
  return false;
}

ncclResult_t allReduces(ncclComm_t comm, int rank, int n, std::atomic<int>* iter) {
  std::vector<int32_t> buf(kCount);
  for (int i = 0; i < kCalls; ++i) {
    if (iter != nullptr) iter->store(i);
    for (size_t k = 0; k < kCount; ++k) buf[k] = rank + i + static_cast<int32_t>(k);
    ncclResult_t r =
        ncclAllReduce(buf.data(), buf.data(), kCount, ncclInt32, ncclSum, comm, nullptr);
    if (r != ncclSuccess) return r;
    for (size_t k = 0; k < kCount; ++k)
      if (buf[k] != n * (i + static_cast<int32_t>(k)) + n * (n - 1) / 2) return ncclInternalError;
  }
  return ncclSuccess;
}

int victimBody(const Case& c, int n, const ncclUniqueId& id, LockBoard* b) {
  b->board.victimPid.store(static_cast<int>(getpid()));
  ncclComm_t comm = nullptr;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, kVictim));
  std::atomic<int> iter{-1};
  std::thread hitter([&] {
    while (iter.load() < 2) std::this_thread::sleep_for(std::chrono::microseconds(200));
    const int pid = c.whose == Whose::kVictims ? static_cast<int>(getpid()) : b->pids[0].load();
    b->lockTaken.store(takeRegionLockOf(pid) ? 1 : 0);
    inject(c.fault, &b->board);
  });
  allReduces(comm, kVictim, n, &iter);
  hitter.join();
  return 0;  // not reached: the hitter kills or stops this process
}

int survivorBody(const Case& c, int rank, int n, const ncclUniqueId& id, LockBoard* b) {
  b->pids[rank].store(static_cast<int>(getpid()));
  const Holdings before = holdings();
  ncclComm_t comm = nullptr;
  RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
  ncclResult_t r = allReduces(comm, rank, n, nullptr);
  const double seconds = secondsSince(b->board.faultAtNs.load());
  std::string text = r == ncclSuccess ? "completed" : ncclGetLastError(comm);
  for (char& ch : text)
    if (ch == '\n') ch = ' ';
  std::fprintf(stderr, "OUTCOME %.3f %d: %s\n", seconds, static_cast<int>(r), text.c_str());
  RANK_CHECK(r != ncclSuccess, "all-reduces succeeded though rank 1 was lost");
  RANK_CHECK(seconds < kTimeoutSeconds + kSlackSeconds, "took %.1f s", seconds);
  const bool named = text.find("rank 1 ") != std::string::npos;
  if (c.fault == Fault::kKill)
    RANK_CHECK(named, "the error does not name rank 1: %s", text.c_str());
  else
    RANK_CHECK(named || text.find("PLEXUS_TIMEOUT") != std::string::npos,
               "neither rank 1 nor PLEXUS_TIMEOUT in: %s", text.c_str());
  RANK_CHECK(ncclCommAbort(comm) == ncclSuccess, "abort failed");
  if (b->board.survivorsDone.fetch_add(1) + 1 == n - 1 && c.fault == Fault::kStop)
    kill(b->board.victimPid.load(), SIGKILL);
  const std::string leaked = leakedSince(before);
  RANK_CHECK(leaked.empty(), "after abort this rank still holds:%s", leaked.c_str());
  return 0;
}

std::string caseName(const ::testing::TestParamInfo<Case>& p) {
  return std::string(faultName(p.param.fault)) + "_holding_" +
         (p.param.whose == Whose::kVictims ? "own" : "rank0s") + "_lock";
}

class OfiShmLock : public ::testing::TestWithParam<Case> {};

TEST_P(OfiShmLock, LostWhileHoldingARegionLockFailsTheSurvivorsWithinTheTimeout) {
  const TransportSetup& t = transportNamed("ofi_shm");
  const std::string why = unavailableReason(t);
  if (!why.empty()) GTEST_SKIP() << why;
  const std::set<std::string> shmBefore = devShmEntries();
  const Case c = GetParam();
  LockBoard* b = plexus::test::newShared<LockBoard>();
  RunOptions options = optionsFor(t, kTimeoutSeconds);
  options.timeoutSeconds = 60;
  auto out = runRanks(
      kRanks,
      [&c, b](int rank, int n, const ncclUniqueId& id) {
        return rank == kVictim ? victimBody(c, n, id, b) : survivorBody(c, rank, n, id, b);
      },
      options);
  const bool locked = b->lockTaken.load() == 1;
  plexus::test::deleteShared(b);
  EXPECT_EQ(out[kVictim].exitCode, 128 + SIGKILL) << out[kVictim].output;
  for (int r = 0; r < kRanks; ++r) {
    if (r == kVictim) continue;
    const std::string& o = out[static_cast<size_t>(r)].output;
    EXPECT_EQ(out[static_cast<size_t>(r)].exitCode, 0) << "rank " << r << ":\n" << o;
    const size_t at = o.find("OUTCOME ");
    if (at != std::string::npos)
      std::printf("OFI-SHM-LOCK|%s|%s|rank %d|%s\n", faultName(c.fault),
                  c.whose == Whose::kVictims ? "victim's lock" : "rank 0's lock", r,
                  o.substr(at + 8, std::min<size_t>(o.find('\n', at) - at - 8, 200)).c_str());
  }
  std::string left;
  for (const std::string& n : leftInDevShm(shmBefore))
    if (!heldByALiveProcess("/dev/shm/" + n)) left += " /dev/shm/" + n;
  EXPECT_EQ(left, "");
  EXPECT_EQ(childProcesses(), std::vector<int>{});
  if (!locked) GTEST_SKIP() << "no libfabric 1.17 shm region found: the lock was not taken";
}

INSTANTIATE_TEST_SUITE_P(Cases, OfiShmLock,
                         ::testing::Values(Case{Fault::kKill, Whose::kVictims},
                                           Case{Fault::kKill, Whose::kRank0s},
                                           Case{Fault::kStop, Whose::kVictims},
                                           Case{Fault::kStop, Whose::kRank0s}),
                         caseName);

}  // namespace
}  // namespace plexus::testing
