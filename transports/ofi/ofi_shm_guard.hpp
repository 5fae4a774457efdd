// Keeps the ofi plugin from spinning for good inside libfabric's shm provider when a same-host
// peer dies or stops.
//
// libfabric 1.17's shm provider guards each endpoint's shared-memory region with a
// pthread_spinlock_t inside that region (struct smr_region::lock, include/ofi_shm.h):
// - fi_tsend to rank X spins on X's region lock (smr_generic_sendmsg in prov/shm/src/smr_msg.c,
//   and smr_send_name in smr_ep.c on the first send);
// - fi_cq_read and fi_trywait spin on this rank's own region lock (smr_ep_progress:
//   smr_progress_resp, smr_progress_cmd, smr_progress_sar_list in smr_progress.c), and so does
//   fi_trecv when it matches an unexpected message (smr_unexp_start);
// - X holds its lock through its whole command-queue pass (data copies included), and every rank
//   sending to X holds it while it writes its command.
// A process killed or stopped while it holds one of those locks leaves every later caller spinning
// in pthread_spin_lock, out of reach of PLEXUS_TIMEOUT. So the guard
// - maps the header of every region (this rank's and each peer's) and says whether the lock a
//   call would take is free: the fabric calls only then, and otherwise reports "busy" (the caller
//   retries, checks the peer's pidfd and its deadline in between);
// - closes the window left (the lock taken between that check and the call by a process that then
//   dies or stops) with a watchdog thread: a call that stays on a held lock for 0.5 s while a
//   same-host peer has exited, or for PLEXUS_TIMEOUT, gets the lock released (the communicator
//   fails either way: a dead peer or no progress for PLEXUS_TIMEOUT).
// Only the region layout checked here (SMR_VERSION 4 of libfabric 1.17, the region's pid where the
// peer's is expected) is watched; elsewhere the guard is off and says so once.
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/socket.hpp"

namespace plexus::transport {

class ShmLockGuard {
 public:
  // `ownName`: this endpoint's address (fi_getname). Off when the layout is not the known one.
  ShmLockGuard(const std::string& ownName, int nranks);
  ~ShmLockGuard();
  ShmLockGuard(const ShmLockGuard&) = delete;
  ShmLockGuard& operator=(const ShmLockGuard&) = delete;

  bool enabled() const { return own_.lock != nullptr; }
  // Why the guard is off (empty when on).
  const std::string& off() const { return off_; }
  // Watches the region of `rank` (its fi address and pid). Returns false (and says why) when that
  // region cannot be watched; sends to it then go unguarded.
  bool addPeer(int rank, const std::string& name, int pid, std::string* why);

  // The region lock fi_tsend to `rank` takes, and this rank's own (progress, trywait, receives);
  // null when not watched.
  pthread_spinlock_t* peerLock(int rank) const;
  pthread_spinlock_t* ownLock() const { return own_.lock; }
  // `lock` is free now (true for null).
  bool isFree(const pthread_spinlock_t* lock) const;
  // Runs f, a libfabric call that may take `lock`: the watchdog may release the lock should the
  // call stay stuck on it.
  template <class F>
  auto run(pthread_spinlock_t* lock, F&& f) {
    enter(lock);
    auto r = f();
    leave();
    return r;
  }

  // Locks the watchdog released so far (tests, logs).
  int releases() const { return releases_.load(); }

 private:
  struct Region {
    void* map = nullptr;
    pthread_spinlock_t* lock = nullptr;
    int rank = -1;
    int pid = 0;
    Fd pidfd;
  };
  static Region mapRegion(const std::string& name, int pid, std::string* why);
  static void unmap(Region& r);
  void enter(pthread_spinlock_t* lock);
  void leave();
  void watch();
  // A watched peer's process has exited (its rank in *who).
  bool somePeerExited(int* who);

  Region own_;
  std::string off_;
  int unlocked_ = 0;                            // the value of a free pthread_spinlock_t
  std::vector<pthread_spinlock_t*> peerLocks_;  // by rank; written by the caller's thread only
  std::vector<Region> peers_;                   // guarded by mu_
  std::atomic<pthread_spinlock_t*> inside_{nullptr};
  std::atomic<uint64_t> calls_{0};
  std::atomic<int> releases_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread watchdog_;
};

}  // namespace plexus::transport
