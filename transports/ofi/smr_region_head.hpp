// The head of libfabric's struct smr_region (include/ofi_shm.h of libfabric 1.15 to 1.19,
// SMR_VERSION 2 to 5) up to its spin lock: what the ofi plugin's shm guard (ofi_shm_guard.hpp) and
// its tests read in a region's first page. Only SMR_VERSION 4 (libfabric 1.17) is relied on.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>

namespace plexus::transport {

struct SmrRegionHead {
  uint8_t version;
  uint8_t resv;
  uint16_t flags;
  int pid;
  uint8_t cmaCapPeer;
  uint8_t cmaCapSelf;
  uint32_t maxSarBufPerPeer;
  void* baseAddr;
  pthread_spinlock_t lock;
};
static_assert(offsetof(SmrRegionHead, pid) == 4 && offsetof(SmrRegionHead, lock) == 24,
              "the layout of libfabric's struct smr_region (LP64)");

// The SMR_VERSION whose locking ofi_shm_guard.hpp describes (libfabric 1.17).
constexpr uint8_t kSmrKnownVersion = 4;

}  // namespace plexus::transport
