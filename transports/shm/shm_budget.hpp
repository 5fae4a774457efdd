// The shared-memory budget of one rank: the host's budget (PLEXUS_SHM_BUDGET, default a quarter of
// the host's memory) shared equally by the communicator's ranks on the host. Every receive FIFO a
// rank creates is charged to it; one that would pass the share is refused with an error that
// names the budget and the knobs, so a job with many local ranks fails clearly instead of
// exhausting the machine.
#pragma once

#include <cstddef>
#include <cstdint>

#include "transports/common/transport.hpp"

namespace plexus::transport::shm {

// Ranks of the communicator on this rank's host.
int localRanks(const TransportContext& ctx);

class Budget {
 public:
  // Throws Error(kInvalidUsage) when a FIFO of `bytes` for connection `connectionId` from
  // `peer` would pass this rank's share.
  void check(const TransportContext& ctx, size_t bytes, int connectionId, int peer) const;
  // Charges a FIFO that was created.
  void charge(size_t bytes) {
    used_ += bytes;
    ++fifos_;
  }
  uint64_t used() const { return used_; }

 private:
  uint64_t used_ = 0;
  int fifos_ = 0;
};

}  // namespace plexus::transport::shm
