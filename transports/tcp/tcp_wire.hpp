// The tcp transport's wire format (the hello that introduces a socket, the header of each piece)
// and its options.
#pragma once

#include <cstddef>
#include <cstdint>

namespace plexus::transport::tcp {

constexpr uint32_t kHelloMagic = 0x504c5854;  // "PLXT"
constexpr int kMaxSockets = 16;
// The most staging slots a tcp connection keeps per direction.
constexpr uint64_t kMaxRingSlots = 1024;

struct Hello {
  uint32_t magic;
  int32_t fromRank;
  uint64_t commId;
  int32_t connection;
  uint16_t socketIndex;  // this socket's place among the connection's sockets
  uint16_t socketCount;  // sockets the connection uses (PLEXUS_NSOCKS_PERTHREAD of the connector)
  uint8_t secret[16];
};

// One piece of a frame on one socket. `frame` is the frame number modulo 2^32.
struct PieceHeader {
  uint32_t frame;
  uint32_t tag;
  uint32_t total;   // bytes of the whole frame
  uint32_t offset;  // of this piece in the frame
  uint32_t length;  // of this piece
  uint32_t parts;   // pieces of the frame
};
constexpr size_t kMaxAbortText = 1024;
// Hello.connection of a connection that only carries an abort reason.
constexpr int32_t kAbortNotice = -1;

struct TcpOptions {
  int sockets = 1;
  uint32_t stripe = 64 * 1024;
  int bufferBytes = 4 << 20;  // 0: kernel autotuning
  // Staging per direction and connection beyond the engine's FIFO (slots * slot size, 1 MiB by
  // default), for links whose bandwidth-delay product exceeds it. 0: the FIFO's depth. Deeper
  // staging falls out of the cache: on a CPU-bound host it costs more than it gains.
  uint64_t inflightBytes = 0;
};

// PLEXUS_NSOCKS_PERTHREAD, PLEXUS_SOCKET_STRIPE, PLEXUS_SOCKET_BUF_SIZE, PLEXUS_SOCKET_INFLIGHT
// (checked).
TcpOptions tcpOptionsFromEnv();

}  // namespace plexus::transport::tcp
