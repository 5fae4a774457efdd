// Slot FIFO geometry from the environment.
#include "transports/common/transport.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

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

}  // namespace plexus::transport
