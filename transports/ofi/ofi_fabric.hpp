// The libfabric side of the ofi plugin: one FI_EP_RDM endpoint with tagged messages, its address
// vector and completion queue (waitable through FI_WAIT_FD when the provider supports it).
// Provider from PLEXUS_FI_PROVIDER, else libfabric's own FI_PROVIDER filter, else the first
// provider that offers reliable tagged messages.
#pragma once

#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_errno.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/socket.hpp"
#include "transports/common/transport.hpp"
#include "transports/ofi/ofi_shm_guard.hpp"
#include "transports/plugin_common/tagged_fabric.hpp"

namespace plexus::transport {

class OfiFabric final : public TaggedFabric {
 public:
  // Throws Error(kInvalidUsage) when no provider fits (the transport then steps aside).
  explicit OfiFabric(const TransportContext& ctx);
  ~OfiFabric() override;
  OfiFabric(const OfiFabric&) = delete;
  OfiFabric& operator=(const OfiFabric&) = delete;

  std::string describe() const override { return "ofi (" + provider_ + ")"; }
  std::string localAddress() override { return address_; }
  void addPeer(int rank, const std::string& address) override;
  void* registerMemory(void* buf, size_t len) override;
  // Host memory always; CUDA memory when the provider has FI_HMEM (by address, FI_HMEM_CUDA; by
  // dma-buf with libfabric >= 1.20, FI_MR_DMABUF). Knobs: PLEXUS_NET_GDR, PLEXUS_DMABUF_ENABLE.
  uint32_t registrationCaps() const override;
  MemoryRegistration registerRegion(const MemoryRegion& region) override;
  void deregisterRegion(void* handle) override;
  bool post(FabricOp& op) override;
  bool progress() override;
  bool waitFds(std::vector<pollfd>& fds, bool* busy) override;
  // A same-host peer whose process has exited (see peerPidFds_).
  bool peerExited(int rank) const override;
  // An exited peer, or one this rank cannot reach because a lost rank holds a region lock.
  bool peerFailed(int rank, std::string* why) const override;
  plexus_tp_device_t device() const override;

  // The provider reaches only this host (shm).
  bool sameHostOnly() const;
  const std::string& provider() const { return provider_; }

 private:
  void chooseProvider(const TransportContext& ctx);
  void openShmGuard();
  // The shm region lock a send to `rank` takes, and this rank's own (null when not watched).
  pthread_spinlock_t* peerLock(int rank) const {
    return shmGuard_ != nullptr ? shmGuard_->peerLock(rank) : nullptr;
  }
  pthread_spinlock_t* ownLock() const {
    return shmGuard_ != nullptr ? shmGuard_->ownLock() : nullptr;
  }
  // Runs a libfabric call that may take `lock` (null: not watched) when the lock is free now;
  // -FI_EAGAIN, without calling, when it is held (ofi_shm_guard.hpp).
  template <class F>
  ssize_t whenFree(pthread_spinlock_t* lock, F&& f) {
    if (lock == nullptr) return f();
    if (!shmGuard_->isFree(lock)) return -FI_EAGAIN;
    return shmGuard_->run(lock, f);
  }
  void close();

  const TransportContext& ctx_;
  fi_info* info_ = nullptr;
  fid_fabric* fabric_ = nullptr;
  fid_domain* domain_ = nullptr;
  fid_av* av_ = nullptr;
  fid_cq* cq_ = nullptr;
  fid_ep* ep_ = nullptr;
  int waitFd_ = -1;
  bool needMr_ = false;
  std::vector<fid_mr*> mrs_;
  bool hmem_ = false;          // the provider was opened with FI_HMEM
  std::string hmemMissing_;    // why not, for messages
  uint64_t nextKey_ = 1;       // requested keys when the provider does not choose them
  std::set<fid_mr*> userMrs_;  // registrations of registerRegion
  std::map<int, fi_addr_t> peers_;
  // Same-host providers (shm) write into the receiver's shared memory under a lock the receiver
  // also takes: a receiver killed while holding it makes every later fi_tsend to it spin forever
  // inside libfabric. A pidfd per peer (readable once its process has exited, reaped or not) lets
  // a send to a dead peer fail instead of entering the provider.
  std::map<int, Fd> peerPidFds_;
  // ... and a receiver (or sender) killed or stopped while holding a region lock must not leave
  // this rank spinning inside the provider either (ofi_shm_guard.hpp). Null unless shm.
  std::unique_ptr<ShmLockGuard> shmGuard_;
  // `lock` has been held at every look for a while and a same-host peer has exited: that peer
  // died holding it (why says so). Looks from peerFailed, every 200 ms while the engine waits.
  bool heldByLostPeer(const pthread_spinlock_t* lock, std::string* why) const;
  mutable std::map<const pthread_spinlock_t*, std::chrono::steady_clock::time_point> heldSince_;
  // Polls in a row that found this rank's region lock held (waitFds).
  static constexpr int kOwnHeldSpins = 4096;
  int ownHeldPolls_ = 0;
  std::string provider_;
  std::string address_;
};

}  // namespace plexus::transport
