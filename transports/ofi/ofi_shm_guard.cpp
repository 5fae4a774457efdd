// The shm provider's region locks, watched (see ofi_shm_guard.hpp).
#include "transports/ofi/ofi_shm_guard.hpp"

#include <fcntl.h>
#include <poll.h>
#include <rdma/fabric.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>

#include "base/deadline.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/ofi/smr_region_head.hpp"

namespace plexus::transport {
namespace {

using RegionHead = SmrRegionHead;
constexpr uint8_t kKnownVersion = kSmrKnownVersion;
constexpr size_t kMapBytes = 4096;

// A call stuck this long on a held lock while a same-host peer has exited gets it released.
constexpr auto kDeadHolderGrace = std::chrono::milliseconds(500);
constexpr auto kTick = std::chrono::milliseconds(20);

// "fi_shm://1234:1000:0" (fi_getname, with its terminating NUL) -> "1234:1000:0" (shm_open).
std::string shmName(const std::string& address) {
  std::string n = address.substr(0, address.find('\0'));
  const size_t p = n.find("://");
  return p == std::string::npos ? n : n.substr(p + 3);
}

}  // namespace

ShmLockGuard::Region ShmLockGuard::mapRegion(const std::string& address, int pid,
                                             std::string* why) {
  Region r;
  const std::string name = shmName(address);
  Fd fd(::shm_open(name.c_str(), O_RDWR, 0));
  if (!fd) {
    *why = formatString("cannot open /dev/shm/%s: %s", name.c_str(), std::strerror(errno));
    return r;
  }
  void* m = ::mmap(nullptr, kMapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (m == MAP_FAILED) {
    *why = formatString("cannot map /dev/shm/%s: %s", name.c_str(), std::strerror(errno));
    return r;
  }
  auto* head = static_cast<RegionHead*>(m);
  if (head->version != kKnownVersion || head->pid != pid) {
    *why = formatString(
        "/dev/shm/%s is not a libfabric 1.17 shm region of pid %d (version %u, pid %d; "
        "version %u expected)",
        name.c_str(), pid, head->version, head->pid, kKnownVersion);
    ::munmap(m, kMapBytes);
    return r;
  }
  r.map = m;
  r.lock = &head->lock;
  r.pid = pid;
  return r;
}

void ShmLockGuard::unmap(Region& r) {
  if (r.map != nullptr) ::munmap(r.map, kMapBytes);
  r.map = nullptr;
  r.lock = nullptr;
}

ShmLockGuard::ShmLockGuard(const std::string& ownName, int nranks)
    : peerLocks_(static_cast<size_t>(nranks > 0 ? nranks : 0), nullptr) {
  pthread_spinlock_t probe;
  pthread_spin_init(&probe, PTHREAD_PROCESS_SHARED);
  unlocked_ = probe;
  pthread_spin_destroy(&probe);
  const uint32_t v = fi_version();
  if (FI_MAJOR(v) != 1 || FI_MINOR(v) != 17) {
    off_ = formatString("libfabric %u.%u is not 1.17, whose shm locking this guard knows",
                        FI_MAJOR(v), FI_MINOR(v));
    return;
  }
  own_ = mapRegion(ownName, static_cast<int>(::getpid()), &off_);
  if (!enabled()) return;
  watchdog_ = std::thread([this] { watch(); });
}

ShmLockGuard::~ShmLockGuard() {
  if (watchdog_.joinable()) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    watchdog_.join();
  }
  std::lock_guard<std::mutex> lk(mu_);
  for (Region& r : peers_) unmap(r);
  unmap(own_);
}

bool ShmLockGuard::addPeer(int rank, const std::string& name, int pid, std::string* why) {
  if (!enabled() || rank < 0 || static_cast<size_t>(rank) >= peerLocks_.size()) return false;
  if (peerLocks_[static_cast<size_t>(rank)] != nullptr) return true;
  Region r = mapRegion(name, pid, why);
  if (r.lock == nullptr) return false;
  r.rank = rank;
#ifdef SYS_pidfd_open
  r.pidfd = Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
#endif
  peerLocks_[static_cast<size_t>(rank)] = r.lock;
  std::lock_guard<std::mutex> lk(mu_);
  peers_.push_back(std::move(r));
  return true;
}

pthread_spinlock_t* ShmLockGuard::peerLock(int rank) const {
  if (rank < 0 || static_cast<size_t>(rank) >= peerLocks_.size()) return nullptr;
  return peerLocks_[static_cast<size_t>(rank)];
}

bool ShmLockGuard::isFree(const pthread_spinlock_t* lock) const {
  if (lock == nullptr) return true;
  return __atomic_load_n(const_cast<const int*>(lock), __ATOMIC_ACQUIRE) == unlocked_;
}

void ShmLockGuard::enter(pthread_spinlock_t* lock) {
  if (lock == nullptr) return;
  calls_.store(calls_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  inside_.store(lock, std::memory_order_release);
}

void ShmLockGuard::leave() {
  inside_.store(nullptr, std::memory_order_release);
}

bool ShmLockGuard::somePeerExited(int* who) {
  for (const Region& r : peers_) {
    if (!r.pidfd) continue;
    pollfd p{r.pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      *who = r.rank;
      return true;
    }
  }
  return false;
}

// Samples the call in progress every kTick; releases the lock it has been stuck on (the same call,
// the lock held at every sample) once that is past kDeadHolderGrace with a peer gone, or past
// PLEXUS_TIMEOUT.
void ShmLockGuard::watch() {
  const auto timeout = defaultTimeout();
  uint64_t call = 0;
  pthread_spinlock_t* lock = nullptr;
  Clock::time_point since{};
  std::unique_lock<std::mutex> lk(mu_);
  while (!cv_.wait_for(lk, kTick, [this] { return stop_; })) {
    pthread_spinlock_t* now = inside_.load(std::memory_order_acquire);
    const uint64_t c = calls_.load(std::memory_order_relaxed);
    if (now == nullptr || isFree(now)) {
      lock = nullptr;
      continue;
    }
    if (now != lock || c != call) {
      lock = now;
      call = c;
      since = Clock::now();
      continue;
    }
    const auto held = Clock::now() - since;
    int gone = -1;
    const bool deadPeer = held >= kDeadHolderGrace && somePeerExited(&gone);
    if (!deadPeer && held < timeout) continue;
    if (inside_.load(std::memory_order_acquire) != lock || calls_.load() != call) continue;
    pthread_spin_unlock(lock);
    releases_.fetch_add(1);
    const bool own = lock == own_.lock;
    PLEXUS_WARN(
        subsys::kNet,
        "ofi transport (shm): a libfabric call spun %lld ms on the shared-memory lock of "
        "%s, held by a process that %s; released it so that the failure can be reported",
        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(held).count()),
        own ? "this rank's own region" : "a peer's region",
        deadPeer ? formatString("died (rank %d has exited)", gone).c_str()
                 : "made no progress for PLEXUS_TIMEOUT (stopped or hung)");
    lock = nullptr;
  }
}

}  // namespace plexus::transport
