// A rank's control block in shared memory: the doorbell that peers ring after they post or free a
// slot (so a waiting rank can sleep on a futex instead of spinning), and the abort flag peers
// check when they stall. One per communicator rank, in anonymous shared memory: peers on the same
// host map it through its descriptor, which the shm transport hands them (nothing is named in
// /dev/shm, so nothing outlives the ranks).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "base/shm_segment.hpp"
#include "transports/common/doorbell.hpp"

namespace plexus::transport {

struct ControlBlock {
  std::atomic<uint32_t> bell;      // incremented by peers when they publish something
  std::atomic<uint32_t> sleepers;  // > 0 while this rank sleeps on `bell`
  std::atomic<uint32_t> aborted;   // set when this rank failed or aborted
  int32_t pid;
  char reason[1024];  // the first failure that made it abort (NUL-terminated)
};

// The block is also this rank's doorbell (transport.hpp): the shm transport hands it to the engine
// as the way shared-memory peers wake it.
class RankControl final : public Doorbell {
 public:
  // Creates this rank's block and records its descriptor in the process's registry of blocks
  // (ownFd), until it is destroyed.
  static RankControl create(uint64_t commId, int rank);
  // Maps a peer's block from the descriptor it sent.
  static RankControl map(Fd fd, int rank);
  // The registry: the descriptor of this process's block for (commId, rank), or -1. It lets the
  // built-in shm transport, which sits behind the plugin ABI, hand its rank's block to peers.
  static int ownFd(uint64_t commId, int rank);
  RankControl() = default;
  RankControl(RankControl&& o) noexcept { *this = std::move(o); }
  RankControl& operator=(RankControl&& o) noexcept;
  RankControl(const RankControl&) = delete;
  RankControl& operator=(const RankControl&) = delete;
  ~RankControl() override;

  ControlBlock* block() const { return static_cast<ControlBlock*>(segment_.data()); }
  bool valid() const { return segment_.valid(); }

  // Called by a peer after it published data for this rank.
  void ring() {
    ControlBlock* b = block();
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer does not model fences: an RMW on `sleepers` (which the sleeper increments
    // with a seq_cst RMW before it re-checks) gives the same store-load ordering, at the price of
    // a cache-line transfer per ring.
    if (b->sleepers.fetch_add(0, std::memory_order_seq_cst) != 0) wake();
#else
    // Our data stores before the load of `sleepers` (the sleeper increments it, then re-checks).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (b->sleepers.load(std::memory_order_relaxed) != 0) wake();
#endif
  }
  // Doorbell, for this rank's own block: note the bell and count a sleeper, sleep on the futex,
  // uncount.
  uint32_t arm() override {
    ControlBlock* b = block();
    uint32_t seen = b->bell.load(std::memory_order_acquire);
    b->sleepers.fetch_add(1, std::memory_order_seq_cst);
    return seen;
  }
  void sleep(uint32_t seen, std::chrono::nanoseconds max) override;
  void disarm() override {
    block()->sleepers.fetch_sub(1, std::memory_order_seq_cst);
  }

  // Marks this rank aborted with a reason that peers will quote.
  void markAborted(const std::string& reason);

 private:
  void wake();
  ShmSegment segment_;
  uint64_t commId_ = 0;
  int rank_ = -1;
  bool owner_ = false;
};

}  // namespace plexus::transport
