// Wire messages of the bootstrap (root handshake and ring). Fixed-size, host byte order: all
// ranks of a job run the same Plexus build on the same architecture.
#pragma once

#include <sys/socket.h>

#include <cstdint>

namespace plexus::runtime {

constexpr uint32_t kRootHelloMagic = 0x504c5852;  // "PLXR"
constexpr uint32_t kRingHelloMagic = 0x504c5842;  // "PLXB"
constexpr uint32_t kProtocolVersion = 1;

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
  WireAddress ringAddress;
};

struct RootReply {
  uint32_t ok;
  uint32_t reserved;
  uint64_t commId;
  WireAddress next;
  char message[512];
};

struct RingHello {
  uint32_t magic;
  int32_t fromRank;
  uint64_t commId;
  uint8_t secret[16];
};

}  // namespace plexus::runtime
