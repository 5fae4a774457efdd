// What the tagged-message plugins (ofi, ucx) need from their fabric library, so that the slot FIFO,
// credits, side band and failure handling are written once (tagged_transport.cpp) and each plugin
// is only the glue to its library. Tags are 64 bits: kind | connection id | sender rank | frame.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "plexus/transport.h"
#include "transports/common/transport.hpp"

namespace plexus::transport {

namespace tags {
constexpr int kFrameBits = 24, kRankBits = 24, kConnectionBits = 14;
constexpr uint64_t kData = 0, kCredit = 1;
constexpr int kMaxConnection = (1 << kConnectionBits) - 1;
constexpr int kMaxRank = (1 << kRankBits) - 1;
inline uint64_t make(uint64_t kind, int connection, int fromRank, uint64_t frame) {
  return (kind << 62) | (static_cast<uint64_t>(connection) << (kFrameBits + kRankBits)) |
         (static_cast<uint64_t>(fromRank) << kFrameBits) | (frame & ((1u << kFrameBits) - 1));
}
}  // namespace tags

struct FabricOp;

// A receive completed without telling its length (the frame header then says it).
constexpr size_t kUnknownLength = ~size_t{0};

class FabricOpHandler {
 public:
  virtual ~FabricOpHandler() = default;
  // `length`: bytes received (receives). `error`: why it failed (ok false).
  virtual void onComplete(FabricOp& op, bool ok, size_t length, const std::string& error) = 0;
};

// One posted send or receive. Standard layout: the fabric's private context comes first (libfabric
// requires a struct fi_context2 owned by the caller at the context pointer).
struct FabricOp {
  alignas(16) unsigned char fabricContext[64];
  void* request = nullptr;  // fabric-private (UCX request)
  FabricOpHandler* handler = nullptr;
  int kind = 0;        // the handler's own classification
  uint64_t frame = 0;  // the handler's frame number
  bool send = false;
  int peer = -1;  // sends: destination rank
  void* buf = nullptr;
  size_t len = 0;
  void* desc = nullptr;  // registration descriptor (libfabric FI_MR_LOCAL), or null
  uint64_t tag = 0;
  bool inFlight = false;
};

class TaggedFabric {
 public:
  virtual ~TaggedFabric() = default;
  // "ofi tcp;ofi_rxm", "ucx".
  virtual std::string describe() const = 0;
  virtual std::string localAddress() = 0;
  // Makes `rank` (with its fabric address) reachable; idempotent.
  virtual void addPeer(int rank, const std::string& address) = 0;
  // Registers memory if the fabric needs it; returns the descriptor for FabricOp::desc (or null).
  // The registration lives as long as the fabric.
  virtual void* registerMemory(void* buf, size_t len) = 0;
  // Which memory a caller may register through registerRegion (PLEXUS_TP_REG_*); none by
  // default.
  virtual uint32_t registrationCaps() const { return 0; }
  // Registers a caller's region (Transport::registerMemory). Throws Error(kInvalidUsage) saying
  // why when it cannot; by default it cannot.
  virtual MemoryRegistration registerRegion(const MemoryRegion& region) {
    checkRegion(describe().c_str(), region, registrationCaps());
    return {};
  }
  // Releases a registration of registerRegion.
  virtual void deregisterRegion(void*) {}
  // Posts op. False when the fabric is busy (retry after progress()). Throws Error naming the
  // peer on failure.
  virtual bool post(FabricOp& op) = 0;
  // Delivers completions to their handlers. True if any.
  virtual bool progress() = 0;
  // Adds the fds to poll while idle. Returns false if the fabric cannot be waited on (the caller
  // then naps briefly); sets *busy when it has work pending and the caller must not sleep.
  virtual bool waitFds(std::vector<pollfd>& fds, bool* busy) = 0;
  // The fabric knows `rank` is gone (why says how).
  virtual bool peerFailed(int rank, std::string* why) const = 0;
  // True when `rank`'s process is known to have ended (it reads nothing more); false when the
  // fabric cannot tell.
  virtual bool peerExited(int /*rank*/) const { return false; }
  virtual plexus_tp_device_t device() const = 0;
};

}  // namespace plexus::transport
