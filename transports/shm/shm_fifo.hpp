// Layout of one shared-memory slot FIFO (one direction of a connection): a header with the
// receiver's tail counter and, on another cache line, the attach count and geometry; then `slots`
// slots of `slotBytes` payload, each preceded by a 64-byte slot header (size, tag and sequence).
//
// Low-latency protocol: the sender writes the slot header's sequence number last (release), so a
// receiver learns that slot i is full from slot i's own header line (there is no head counter);
// a piece of at most kInlineBytes travels inside that same line. A small message therefore
// costs the receiver one cache-line transfer, data and flag together.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace plexus::transport::shm {

struct alignas(64) FifoHeader {
  alignas(64) std::atomic<uint64_t> tail;  // slots released (written by the receiver)
  alignas(64) std::atomic<uint32_t> attached;
  uint32_t slotBytes;
  uint32_t slots;
};

struct SlotHeader {
  std::atomic<uint64_t> seq;  // slot index + 1 once the slot is full (written last)
  uint32_t bytes;
  uint32_t tag;
  std::byte inlineData[48];  // the payload itself when bytes <= kInlineBytes
};

constexpr size_t kSlotHeaderBytes = 64;
constexpr uint32_t kInlineBytes = 48;
static_assert(sizeof(SlotHeader) == kSlotHeaderBytes);

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
