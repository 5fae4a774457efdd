// Page-aligned memory for the slot FIFOs of one connection direction. Each slot has a 64-byte
// preamble whose last 8 bytes hold the frame header {bytes, tag}, so header and payload travel as
// one contiguous message and the payload stays 64-byte aligned for the reduction kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "base/error.hpp"

namespace plexus::transport {

struct FrameHeader {
  uint32_t bytes;
  uint32_t tag;
};

class SlotArena {
 public:
  static constexpr size_t kPreamble = 64;

  SlotArena(uint32_t slots, uint32_t slotBytes)
      : slots_(slots), slotBytes_(slotBytes), stride_((kPreamble + slotBytes + 63) / 64 * 64) {
    size_t bytes = (stride_ * slots + 4095) / 4096 * 4096;
    void* p = std::aligned_alloc(4096, bytes);
    if (p == nullptr)
      throwError(ErrorCode::kSystem, "out of memory allocating %zu bytes of slot FIFO", bytes);
    mem_.reset(static_cast<std::byte*>(p));
    size_ = bytes;
  }

  std::byte* base() const { return mem_.get(); }
  size_t size() const { return size_; }
  uint32_t slots() const { return slots_; }
  uint32_t slotBytes() const { return slotBytes_; }
  size_t stride() const { return stride_; }
  // Slot of frame n: payload, header, and where the wire message (header + payload) starts.
  std::byte* payload(uint64_t n) const { return base() + stride_ * (n % slots_) + kPreamble; }
  FrameHeader* header(uint64_t n) const {
    return reinterpret_cast<FrameHeader*>(payload(n) - sizeof(FrameHeader));
  }
  std::byte* message(uint64_t n) const { return payload(n) - sizeof(FrameHeader); }
  size_t offsetOf(uint64_t n) const {
    return stride_ * (n % slots_) + kPreamble - sizeof(FrameHeader);
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  uint32_t slots_, slotBytes_;
  size_t stride_;
  size_t size_ = 0;
  std::unique_ptr<std::byte, Free> mem_;
};

}  // namespace plexus::transport
