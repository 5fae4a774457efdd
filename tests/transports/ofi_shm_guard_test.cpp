// The ofi plugin's watch over libfabric's shm region locks (transports/ofi/ofi_shm_guard.hpp), on
// regions made here with the header of libfabric 1.17's struct smr_region: a call stuck on a lock
// that a dead process holds is freed within about a second; a lock a live process holds for a while
// is left alone; a region that is not the known layout is not watched.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <rdma/fabric.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "transports/ofi/ofi_shm_guard.hpp"
#include "transports/ofi/smr_region_head.hpp"

namespace plexus::transport {
namespace {

using RegionHead = SmrRegionHead;

// A fake region in /dev/shm, unlinked when done.
class FakeRegion {
 public:
  FakeRegion(const std::string& tag, int pid, uint8_t version = 4)
      : name_("plexus-guard-test-" + std::to_string(getpid()) + "-" + tag) {
    int fd = shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, 4096), 0);
    map_ = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    head()->version = version;
    head()->pid = pid;
    pthread_spin_init(&head()->lock, PTHREAD_PROCESS_SHARED);
  }
  ~FakeRegion() {
    munmap(map_, 4096);
    shm_unlink(name_.c_str());
  }
  RegionHead* head() { return static_cast<RegionHead*>(map_); }
  // As fi_getname gives it.
  std::string address() const { return "fi_shm://" + name_ + std::string(1, '\0'); }

 private:
  std::string name_;
  void* map_ = nullptr;
};

// A child process that lives until release() (then it is reaped).
class Child {
 public:
  Child() {
    EXPECT_EQ(pipe(fds_), 0);
    pid_ = fork();
    if (pid_ == 0) {
      char c;
      close(fds_[1]);
      (void)!read(fds_[0], &c, 1);
      _exit(0);
    }
    close(fds_[0]);
  }
  ~Child() { release(); }
  void release() {
    if (pid_ <= 0) return;
    close(fds_[1]);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int pid() const { return pid_; }

 private:
  int fds_[2] = {-1, -1};
  int pid_ = -1;
};

bool knownLibfabric() {
  return FI_MAJOR(fi_version()) == 1 && FI_MINOR(fi_version()) == 17;
}

double secondsOf(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(OfiShmGuard, FreesACallStuckOnALockADeadPeerHeld) {
  if (!knownLibfabric()) GTEST_SKIP() << "libfabric is not 1.17";
  setenv("PLEXUS_TIMEOUT", "60", 1);
  FakeRegion own("own", getpid());
  Child peer;
  FakeRegion peerRegion("peer", peer.pid());
  ShmLockGuard guard(own.address(), 2);
  ASSERT_TRUE(guard.enabled()) << guard.off();
  std::string why;
  ASSERT_TRUE(guard.addPeer(1, peerRegion.address(), peer.pid(), &why)) << why;
  pthread_spinlock_t* lock = guard.peerLock(1);
  ASSERT_NE(lock, nullptr);
  EXPECT_TRUE(guard.isFree(lock));
  pthread_spin_lock(&peerRegion.head()->lock);  // as the peer would, in its progress
  EXPECT_FALSE(guard.isFree(lock));
  peer.release();  // ... and then it dies
  // A call that got past the check just before the lock was taken spins on it, until the watchdog
  // releases it.
  const double s = secondsOf([&] {
    guard.run(lock, [&] {
      pthread_spin_lock(lock);
      pthread_spin_unlock(lock);
      return 0;
    });
  });
  EXPECT_EQ(guard.releases(), 1);
  EXPECT_GE(s, 0.4);
  EXPECT_LT(s, 5.0);
}

TEST(OfiShmGuard, LeavesALockALivePeerHoldsAlone) {
  if (!knownLibfabric()) GTEST_SKIP() << "libfabric is not 1.17";
  setenv("PLEXUS_TIMEOUT", "60", 1);
  FakeRegion own("own2", getpid());
  Child peer;
  FakeRegion peerRegion("peer2", peer.pid());
  ShmLockGuard guard(own.address(), 2);
  ASSERT_TRUE(guard.enabled()) << guard.off();
  std::string why;
  ASSERT_TRUE(guard.addPeer(1, peerRegion.address(), peer.pid(), &why)) << why;
  pthread_spinlock_t* lock = guard.ownLock();
  pthread_spin_lock(lock);
  std::thread holder([lock] {
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    pthread_spin_unlock(lock);
  });
  const double s = secondsOf([&] {
    guard.run(lock, [&] {
      pthread_spin_lock(lock);
      pthread_spin_unlock(lock);
      return 0;
    });
  });
  holder.join();
  EXPECT_EQ(guard.releases(), 0);
  EXPECT_GE(s, 0.8);
}

TEST(OfiShmGuard, WatchesOnlyTheKnownLayout) {
  if (!knownLibfabric()) GTEST_SKIP() << "libfabric is not 1.17";
  FakeRegion other("v5", getpid(), 5);
  ShmLockGuard guard(other.address(), 2);
  EXPECT_FALSE(guard.enabled());
  EXPECT_NE(guard.off().find("version 5"), std::string::npos) << guard.off();
  FakeRegion own("own3", getpid());
  ShmLockGuard ok(own.address(), 2);
  ASSERT_TRUE(ok.enabled()) << ok.off();
  std::string why;
  FakeRegion notThePeers("pid", getpid());
  EXPECT_FALSE(ok.addPeer(1, notThePeers.address(), getpid() + 1, &why));
  EXPECT_NE(why.find("pid"), std::string::npos) << why;
  EXPECT_EQ(ok.peerLock(1), nullptr);
  EXPECT_TRUE(ok.isFree(ok.peerLock(1)));
}

}  // namespace
}  // namespace plexus::transport
