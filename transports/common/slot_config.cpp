// Slot FIFO geometry from the environment, fitted to the shared-memory budget.
#include <unistd.h>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/common/transport.hpp"

namespace plexus::transport {

SlotConfig slotConfigFromEnv() {
  SlotConfig c;
  uint64_t bytes = envSize("SLOT_SIZE", c.slotBytes);
  int64_t slots = envInt("SLOTS", c.slots);
  if (bytes < 64 || bytes > (1u << 30) || bytes % 64 != 0)
    throwError(ErrorCode::kInvalidArgument,
               "PLEXUS_SLOT_SIZE=%llu must be a multiple of 64 between 64 bytes and 1 GiB",
               static_cast<unsigned long long>(bytes));
  if (slots < 2 || slots > 1024)
    throwError(ErrorCode::kInvalidArgument, "PLEXUS_SLOTS=%lld must be between 2 and 1024",
               static_cast<long long>(slots));
  c.slotBytes = static_cast<uint32_t>(bytes);
  c.slots = static_cast<uint32_t>(slots);
  return c;
}

bool slotConfigFromUser() {
  return envGet("SLOT_SIZE").has_value() || envGet("SLOTS").has_value();
}

uint64_t shmBudgetFromEnv() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long pageSize = sysconf(_SC_PAGESIZE);
  uint64_t quarter = pages > 0 && pageSize > 0
                         ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize) / 4
                         : uint64_t{4} << 30;
  uint64_t b = envSize("SHM_BUDGET", quarter);
  if (b == 0)
    throwError(ErrorCode::kInvalidArgument,
               "PLEXUS_SHM_BUDGET=0: the shared-memory budget per host must be positive (e.g. 8G)");
  return b;
}

SlotConfig fitSlotsToBudget(SlotConfig wanted, bool fromUser, int localRanks, uint64_t budget,
                            int channels) {
  if (localRanks < 2) return wanted;
  const uint64_t share = budget / static_cast<uint64_t>(localRanks);
  const uint64_t peers =
      static_cast<uint64_t>(localRanks - 1) * static_cast<uint64_t>(channels > 0 ? channels : 1);
  // A FIFO: its header line, then per slot a 64-byte header and the payload (shm_fifo.hpp).
  auto meshBytes = [&](const SlotConfig& c) {
    return peers * (128 + static_cast<uint64_t>(c.slots) * (64 + c.slotBytes));
  };
  if (meshBytes(wanted) <= share || fromUser) return wanted;
  SlotConfig c = wanted;
  while (meshBytes(c) > share && c.slotBytes > 4096) c.slotBytes /= 2;
  while (meshBytes(c) > share && c.slots > 2) c.slots /= 2;
  PLEXUS_INFO(subsys::kInit,
              "%d ranks on one host: FIFOs of %u slots of %u bytes instead of %u of %u, so that "
              "each rank's FIFOs from all its same-host peers on %d channel(s) fit its share of "
              "the %llu-byte shared-memory budget (PLEXUS_SHM_BUDGET)",
              localRanks, c.slots, c.slotBytes, wanted.slots, wanted.slotBytes, channels,
              static_cast<unsigned long long>(budget));
  return c;
}

}  // namespace plexus::transport
