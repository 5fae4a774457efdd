// The 128-byte unique id (ncclUniqueId) that ranks share to find each other: the bootstrap root's
// address and port, a random secret the root demands from every connection, and whether rank 0
// starts the root itself (ids made from a launcher's environment, as NCCL_COMM_ID does).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "base/socket.hpp"

namespace plexus::runtime {

constexpr size_t kUniqueIdBytes = 128;
using UniqueIdBytes = std::array<uint8_t, kUniqueIdBytes>;
using Secret = std::array<uint8_t, 16>;

struct UniqueId {
  SocketAddress root;
  Secret secret{};
  uint64_t nonce = 0;
  bool rootStartedByRank0 = false;

  UniqueIdBytes encode() const;
  // Throws Error(kInvalidArgument) when the bytes are not a Plexus unique id.
  static UniqueId decode(const UniqueIdBytes& bytes);
};

// Starts a bootstrap root in this process (on the interface PLEXUS_SOCKET_IFNAME selects) and
// returns its id: what ncclGetUniqueId does without PLEXUS_COMM_ID.
UniqueId createRootAndId();

// The id every rank derives alike from PLEXUS_COMM_ID / a launcher's environment; rank 0 starts the
// root when it initialises. `rootAddress` is "host:port".
UniqueId idFromAddress(const std::string& rootAddress, const Secret& secret);

Secret parseSecretHex(const std::string& hex);  // 32 hex digits

}  // namespace plexus::runtime
