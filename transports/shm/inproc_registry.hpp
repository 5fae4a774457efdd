// Same-process peers of the shm transport (ranks that are threads of one process, as
// ncclCommInitAll makes them) connect without any descriptor: through this process-wide registry
// instead of the local link. It is a mutex-protected map:
//   (commId, receiving rank, sending rank, connection id) -> the receiver's FIFO (heap memory)
// plus, per (commId, rank), the rank's control block and an inbox of the announcements made to it
// (which it answers, as a rank answers link messages). Ownership is shared (std::shared_ptr): the
// sender takes the FIFO out of the map and both ends keep it alive, so neither frees memory the
// other still uses. A rank's entries (unclaimed FIFOs, inbox, control) are removed when its
// transport closes (forgetRank), so nothing outlives the communicator and a later communicator of
// the same ranks starts clean.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "transports/common/rank_control.hpp"

namespace plexus::transport::shm {

// One receive FIFO in this process's heap: zero-filled, 64-byte aligned.
class InprocFifo {
 public:
  explicit InprocFifo(size_t bytes);
  ~InprocFifo();
  InprocFifo(const InprocFifo&) = delete;
  InprocFifo& operator=(const InprocFifo&) = delete;
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
};

struct InprocKey {
  uint64_t commId = 0;
  int receiver = -1;
  int sender = -1;
  int connection = -1;
  auto operator<=>(const InprocKey&) const = default;
};

// Publishes `receiver`'s FIFO for data from `sender` and notes the announcement in the sender's
// inbox (when the sender's control is registered: a sender that is not there yet finds the FIFO
// when it connects, and one that is gone would never drain it).
void publishFifo(const InprocKey& key, std::shared_ptr<InprocFifo> fifo);
// Takes (removes) the FIFO published under `key`; null while it is not there.
std::shared_ptr<InprocFifo> takeFifo(const InprocKey& key);
// Drains the announcements made to (commId, rank): (announcing rank, connection id) pairs.
std::vector<std::pair<int, int>> takeInbox(uint64_t commId, int rank);
// A rank's control block, shared with its same-process peers (they ring it and read its abort
// flag through the same mapping).
void registerControl(uint64_t commId, int rank, std::shared_ptr<RankControl> control);
std::shared_ptr<RankControl> findControl(uint64_t commId, int rank);
// Removes what (commId, rank) put in the registry: its unclaimed FIFOs, its inbox, its control.
void forgetRank(uint64_t commId, int rank);
// Entries in the registry (FIFOs, inbox notes and controls), for tests.
size_t registryEntries();

}  // namespace plexus::transport::shm
