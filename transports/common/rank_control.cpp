// Rank control blocks (doorbell + abort flag) in shared memory.
#include "transports/common/rank_control.hpp"

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "util/futex.hpp"

namespace plexus::transport {

std::string RankControl::segmentName(uint64_t commId, int rank) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "/plexus-%016" PRIx64 "-r%d", commId, rank);
  return buf;
}

RankControl RankControl::create(uint64_t commId, int rank) {
  RankControl rc;
  rc.segment_ = ShmSegment::createOrOpen(segmentName(commId, rank), sizeof(ControlBlock));
  rc.owner_ = true;
  rc.block()->pid = static_cast<int32_t>(getpid());
  return rc;
}

RankControl RankControl::open(uint64_t commId, int rank) {
  RankControl rc;
  rc.segment_ = ShmSegment::openExisting(segmentName(commId, rank), sizeof(ControlBlock));
  rc.owner_ = false;
  return rc;
}

RankControl::~RankControl() {
  if (owner_) segment_.unlink();
}

void RankControl::wake() {
  ControlBlock* b = block();
  b->bell.fetch_add(1, std::memory_order_release);
  futexWakeAll(&b->bell, /*processShared=*/true);
}

void RankControl::markAborted(const std::string& reason) {
  ControlBlock* b = block();
  std::snprintf(b->reason, sizeof(b->reason), "%s", reason.c_str());
  b->aborted.store(1, std::memory_order_release);
  wake();
}

}  // namespace plexus::transport
