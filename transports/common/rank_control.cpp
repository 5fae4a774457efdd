// Rank control blocks (doorbell + abort flag) in anonymous shared memory, and the registry of this
// process's own blocks.
#include "transports/common/rank_control.hpp"

#include <unistd.h>

#include <cinttypes>
#include <cstring>
#include <map>
#include <mutex>

#include "base/error.hpp"
#include "base/futex.hpp"

namespace plexus::transport {
namespace {

// The documented registry (rank_control.hpp, ownFd): (commId, rank) -> descriptor of the block
// this process owns. Entries live as long as their RankControl.
struct OwnBlocks {
  std::mutex mutex;
  std::map<std::pair<uint64_t, int>, int> fds;
};
OwnBlocks& ownBlocks() {
  static OwnBlocks registry;
  return registry;
}

}  // namespace

RankControl RankControl::create(uint64_t commId, int rank) {
  RankControl rc;
  rc.segment_ = ShmSegment::create(formatString("plexus-control-r%d", rank), sizeof(ControlBlock));
  rc.commId_ = commId;
  rc.rank_ = rank;
  rc.owner_ = true;
  rc.block()->pid = static_cast<int32_t>(getpid());
  std::lock_guard<std::mutex> lock(ownBlocks().mutex);
  ownBlocks().fds[{commId, rank}] = rc.segment_.fd();
  return rc;
}

RankControl RankControl::map(Fd fd, int rank) {
  RankControl rc;
  rc.segment_ = ShmSegment::map(std::move(fd), sizeof(ControlBlock),
                                formatString("control block of rank %d", rank));
  rc.rank_ = rank;
  return rc;
}

int RankControl::ownFd(uint64_t commId, int rank) {
  std::lock_guard<std::mutex> lock(ownBlocks().mutex);
  auto it = ownBlocks().fds.find({commId, rank});
  return it != ownBlocks().fds.end() ? it->second : -1;
}

RankControl& RankControl::operator=(RankControl&& o) noexcept {
  if (this != &o) {
    if (owner_) {
      std::lock_guard<std::mutex> lock(ownBlocks().mutex);
      ownBlocks().fds.erase({commId_, rank_});
    }
    segment_ = std::move(o.segment_);
    commId_ = o.commId_;
    rank_ = o.rank_;
    owner_ = std::exchange(o.owner_, false);
  }
  return *this;
}

RankControl::~RankControl() {
  if (!owner_) return;
  std::lock_guard<std::mutex> lock(ownBlocks().mutex);
  ownBlocks().fds.erase({commId_, rank_});
}

void RankControl::wake() {
  ControlBlock* b = block();
  b->bell.fetch_add(1, std::memory_order_release);
  futexWakeAll(&b->bell, /*processShared=*/true);
}

void RankControl::sleep(uint32_t seen, std::chrono::nanoseconds max) {
  futexWait(&block()->bell, seen, max, /*processShared=*/true);
}

void RankControl::markAborted(const std::string& reason) {
  ControlBlock* b = block();
  std::snprintf(b->reason, sizeof(b->reason), "%s", reason.c_str());
  b->aborted.store(1, std::memory_order_release);
  wake();
}

}  // namespace plexus::transport
