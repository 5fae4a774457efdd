// Layout of one shared-memory slot FIFO (one direction of a connection): a header with the
// sender's head counter and the receiver's tail counter on separate cache lines, then `slots`
// slots of `slotBytes` payload, each preceded by a 64-byte slot header (size and tag).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace plexus::transport::shm {

struct alignas(64) FifoHeader {
  alignas(64) std::atomic<uint64_t> head;  // slots posted (written by the sender)
  alignas(64) std::atomic<uint64_t> tail;  // slots released (written by the receiver)
  alignas(64) std::atomic<uint32_t> attached;
  uint32_t slotBytes;
  uint32_t slots;
};

struct SlotHeader {
  uint32_t bytes;
  uint32_t tag;
};

constexpr size_t kSlotHeaderBytes = 64;

inline size_t slotStride(uint32_t slotBytes) {
  return kSlotHeaderBytes + ((static_cast<size_t>(slotBytes) + 63) & ~size_t{63});
}
inline size_t fifoBytes(uint32_t slotBytes, uint32_t slots) {
  return sizeof(FifoHeader) + slotStride(slotBytes) * slots;
}

// A mapped FIFO: pointers into the segment.
struct FifoView {
  FifoHeader* header = nullptr;
  std::byte* slotBase = nullptr;
  size_t stride = 0;
  uint32_t slots = 0;

  SlotHeader* slotHeader(uint64_t index) const {
    return reinterpret_cast<SlotHeader*>(slotBase + (index % slots) * stride);
  }
  std::byte* slotData(uint64_t index) const {
    return slotBase + (index % slots) * stride + kSlotHeaderBytes;
  }
};

}  // namespace plexus::transport::shm
