// A rank's window: the memory its peers write into. It holds, for every FIFO the rank receives on,
// the ring of slots and the `posted` counter its sender advances, and for every FIFO it sends on,
// the `consumed` counter its receiver advances; each region also keeps this rank's own count
// (`mine`). A directory at the start lists the regions, so a peer finds its FIFOs by reading it:
// memory grows with the FIFOs a rank uses, never with the communicator's size.
//
// Region layout: receive: [posted][mine][slot 0]...[slot S-1], each slot a SlotHeader line and
// slotBytes of data; send: [consumed][mine]. Counters sit on cache lines of their own; the host
// platform keeps a sleeper count 8 bytes after each shared counter (host_platform.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/exec/exec_plan.hpp"

namespace plexus::engine::exec {

struct WindowEntry {
  int32_t connection = 0;
  int32_t peer = -1;
  uint32_t send = 0;  // 1: counters of a FIFO this rank sends on; 0: a FIFO it receives on
  uint32_t pad = 0;
  uint64_t offset = 0;
};

struct WindowHeader {
  uint64_t magic = 0;
  uint64_t size = 0;
  int32_t rank = -1;
  int32_t pid = 0;
  uint32_t slots = 0;
  uint32_t slotBytes = 0;
  uint32_t nentries = 0;
  uint32_t attached = 0;  // peers that mapped this window (atomic, advanced by each peer)
};

constexpr uint64_t kWindowMagic = 0x58454e4957584c50ull;  // "PLXWINEX"
constexpr uint64_t kCounterLine = 64;

class WindowLayout {
 public:
  WindowLayout() = default;
  // The layout of `rank`'s window for these FIFOs (duplicates are ignored).
  static WindowLayout build(int rank, std::vector<FifoKey> fifos, uint32_t slots,
                            uint32_t slotBytes);
  // Reads the directory of a window (a peer's, mapped here). Throws Error(kRemote) naming `who`
  // when the window is not a valid one.
  static WindowLayout read(const void* base, uint64_t mappedBytes, const std::string& who);

  uint64_t size() const { return size_; }
  int rank() const { return rank_; }
  uint32_t slots() const { return slots_; }
  uint32_t slotBytes() const { return slotBytes_; }
  const std::vector<WindowEntry>& entries() const { return entries_; }
  // The peers this window has FIFOs with, ascending.
  std::vector<int> peers() const;
  // Offset of the region of a FIFO, or nothing.
  std::optional<uint64_t> find(int connection, int peer, bool send) const;
  // Writes header and directory to the start of a window of size() bytes (host memory; the rest
  // must be zero).
  void writeTo(void* base, int pid) const;
  // Header and directory as bytes (to copy into device memory).
  std::vector<unsigned char> image(int pid) const;

 private:
  std::vector<WindowEntry> entries_;
  uint64_t size_ = 0;
  int rank_ = -1;
  uint32_t slots_ = 0;
  uint32_t slotBytes_ = 0;
};

// The memory one plan's FIFOs use: `ownBase` is this rank's window, peerBases[r] rank r's window
// as this process addresses it (null where not mapped), peerLayouts[r] its directory. Throws
// Error(kInvalidUsage) naming the FIFO when a window lacks it (the ranks' plans differ, or the
// executor was set up for other FIFOs).
std::vector<ExecFifo> resolveFifos(const FlatPlan& plan, const WindowLayout& own,
                                   unsigned char* ownBase,
                                   const std::vector<const WindowLayout*>& peerLayouts,
                                   const std::vector<unsigned char*>& peerBases);

// The FIFOs of several plans, without duplicates, ascending.
std::vector<FifoKey> unionFifos(const std::vector<const FlatPlan*>& plans);

}  // namespace plexus::engine::exec
