// How the tcp transport cuts a slot into pieces for its sockets: a slot no larger than the stripe
// (or any slot when there is one socket) travels whole; a larger one is cut into at most `sockets`
// pieces of equal size (4 KiB multiples, the last one shorter), each on its own socket. Consecutive
// frames start on consecutive sockets so that small frames spread too. Pure, unit-tested.
#pragma once

#include <cstdint>
#include <vector>

namespace plexus::transport::tcp {

struct Piece {
  int socket;
  uint32_t offset;
  uint32_t length;
};

inline std::vector<Piece> planPieces(uint64_t frame, uint32_t bytes, int sockets, uint32_t stripe) {
  int first = static_cast<int>(frame % static_cast<uint64_t>(sockets));
  if (sockets <= 1 || bytes <= stripe || stripe == 0) return {Piece{first, 0, bytes}};
  uint64_t parts = (static_cast<uint64_t>(bytes) + stripe - 1) / stripe;
  if (parts > static_cast<uint64_t>(sockets)) parts = static_cast<uint64_t>(sockets);
  uint64_t length = (bytes + parts - 1) / parts;
  length = (length + 4095) / 4096 * 4096;
  std::vector<Piece> out;
  for (uint64_t off = 0, i = 0; off < bytes; off += length, ++i) {
    uint64_t len = bytes - off < length ? bytes - off : length;
    out.push_back(
        Piece{static_cast<int>((static_cast<uint64_t>(first) + i) % static_cast<uint64_t>(sockets)),
              static_cast<uint32_t>(off), static_cast<uint32_t>(len)});
  }
  return out;
}

}  // namespace plexus::transport::tcp
