// A rank's control block in shared memory: the doorbell that peers ring after they post or free a
// slot (so a waiting rank can sleep on a futex instead of spinning), and the abort flag peers
// check when they stall. One per communicator rank, named from the communicator id and the rank.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "util/shm_segment.hpp"

namespace plexus::transport {

struct ControlBlock {
  std::atomic<uint32_t> bell;      // incremented by peers when they publish something
  std::atomic<uint32_t> sleepers;  // > 0 while this rank sleeps on `bell`
  std::atomic<uint32_t> aborted;   // set when this rank failed or aborted
  int32_t pid;
  char reason[1024];  // the first failure that made it abort (NUL-terminated)
};

class RankControl {
 public:
  // Creates this rank's block (owner) or maps a peer's (not owner).
  static RankControl create(uint64_t commId, int rank);
  static RankControl open(uint64_t commId, int rank);
  RankControl() = default;
  RankControl(RankControl&&) noexcept = default;
  RankControl& operator=(RankControl&&) noexcept = default;
  ~RankControl();

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
  // Marks this rank aborted with a reason that peers will quote.
  void markAborted(const std::string& reason);

  static std::string segmentName(uint64_t commId, int rank);

 private:
  void wake();
  ShmSegment segment_;
  bool owner_ = false;
};

}  // namespace plexus::transport
