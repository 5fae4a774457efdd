// Wire messages of the bootstrap (root handshake and the links between ranks). Fixed-size, host
// byte order: all ranks of a job run the same Plexus build on the same architecture.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace plexus::runtime {

constexpr uint32_t kRootHelloMagic = 0x504c5852;  // "PLXR"
constexpr uint32_t kLinkHelloMagic = 0x504c584c;  // "PLXL"
constexpr uint32_t kProtocolVersion = 3;
constexpr size_t kWireHostBytes = 64;  // a host name, cut there (NUL-padded)

struct WireAddress {
  uint32_t length;
  uint8_t bytes[sizeof(sockaddr_storage)];
};

struct RootHello {
  uint32_t magic;
  uint32_t version;
  uint8_t secret[16];
  uint64_t nonce;
  int32_t rank;
  int32_t nranks;
  int32_t pid;  // lets the root answer ranks of other processes before its own
  uint32_t reserved;
  WireAddress listenAddress;  // where this rank accepts its bootstrap links
  uint64_t pidSpace;          // bootstrapPidSpace(): which ranks can look up this pid in /proc
  char host[kWireHostBytes];  // gethostname(), for errors that name this rank
};

// Who listens at an address the root hands out (for errors: the rank, its host and process).
struct WireRank {
  int32_t pid;
  uint32_t reserved;
  uint64_t pidSpace;
  char host[kWireHostBytes];
};

// The root's answer. When ok, 2 * rounds WireAddresses follow: the listeners of ranks
// (rank + 2^k) % nranks for k = 0..rounds-1 (this rank connects to them), then those of ranks
// (rank - 2^k) mod nranks (they connect to this rank; named in errors). rounds = ceil(log2 nranks).
// Then 2 * rounds WireRanks, in the same order: the host and process of each of those ranks.
struct RootReply {
  uint32_t ok;
  uint32_t rounds;
  uint64_t commId;
  char message[512];
};

// First bytes on a link: rank `fromRank` connects for round `round` of the all-gather. With
// kLinkGivesUp in `flags` it says instead that it gives up on the call, `reason` (NUL-terminated)
// saying why: sent on the link, or on a connection made for it, to each rank that waits for it.
constexpr uint32_t kLinkGivesUp = 1;
struct LinkHello {
  uint32_t magic;
  int32_t fromRank;
  int32_t round;
  uint32_t flags;
  uint64_t commId;
  uint8_t secret[16];
  char reason[512];
};

}  // namespace plexus::runtime
