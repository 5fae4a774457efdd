// Shared-memory budget per rank.
#include "transports/shm/shm_budget.hpp"

#include "base/error.hpp"

namespace plexus::transport::shm {

int localRanks(const TransportContext& ctx) {
  const auto& peers = *ctx.peers;
  uint64_t host = peers[static_cast<size_t>(ctx.rank)].hostHash;
  int n = 0;
  for (const PeerRecord& p : peers) n += p.hostHash == host ? 1 : 0;
  return n;
}

void Budget::check(const TransportContext& ctx, size_t bytes, int connectionId, int peer) const {
  uint64_t budget = shmBudgetFromEnv();
  int local = localRanks(ctx);
  uint64_t share = budget / static_cast<uint64_t>(local > 0 ? local : 1);
  if (used_ + bytes > share) {
    const PeerRecord& self = (*ctx.peers)[static_cast<size_t>(ctx.rank)];
    throwError(ErrorCode::kInvalidUsage,
               "rank %d (host %s): the shared-memory budget is exhausted: this rank holds %d "
               "FIFOs (%llu bytes) of its share of %llu bytes (PLEXUS_SHM_BUDGET=%llu bytes per "
               "host / %d ranks on the host), and the FIFO of connection %d from rank %d needs "
               "%zu more. Raise PLEXUS_SHM_BUDGET, make FIFOs smaller (a FIFO is PLEXUS_SLOTS=%u "
               "x PLEXUS_SLOT_SIZE=%u bytes), or choose an algorithm with fewer peers "
               "(PLEXUS_ALGO=ring)",
               ctx.rank, self.hostName.c_str(), fifos_, static_cast<unsigned long long>(used_),
               static_cast<unsigned long long>(share), static_cast<unsigned long long>(budget),
               local, connectionId, peer, bytes, ctx.slots.slots, ctx.slots.slotBytes);
  }
}

}  // namespace plexus::transport::shm
