// What the ibverbs transport puts on the wire outside the data path, and the pure decisions it
// makes from device attributes (unit-tested without a device):
//  - PortAddress: one usable local port, published in the address blob (AddressBlob::kPorts) so
//    peers can tell whether they share a fabric (InfiniBand subnet or Ethernet for RoCE);
//  - ConnInfo: per connection, sent over the side band: the queue pair numbers and first packet
//    sequence numbers, the port's LID/GID/MTU, and where the receiver's slot FIFO and the sender's
//    credit word are (address and rkey), with its own version;
//  - the port rate from the verbs width/speed codes, and the GID index choice for RoCE v2.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace plexus::transport::ib {

enum class LinkLayer : uint8_t { kInfiniBand = 1, kEthernet = 2 };

struct PortAddress {
  uint64_t subnetPrefix = 0;  // GID subnet prefix (InfiniBand) or 0
  uint16_t lid = 0;
  uint8_t port = 0;
  LinkLayer linkLayer = LinkLayer::kInfiniBand;
  std::array<uint8_t, 16> gid{};
};

std::string encodePorts(const std::vector<PortAddress>& ports);
// Throws Error(kInvalidUsage) naming `who` when damaged.
std::vector<PortAddress> decodePorts(const std::string& blob, const std::string& who);

struct ConnInfo {
  static constexpr uint16_t kVersion = 1;
  uint16_t version = kVersion;
  uint32_t slots = 0;
  uint32_t slotBytes = 0;
  uint16_t lid = 0;
  uint8_t port = 0;
  uint8_t mtu = 0;  // enum ibv_mtu
  LinkLayer linkLayer = LinkLayer::kInfiniBand;
  std::array<uint8_t, 16> gid{};
  uint64_t fifoAddr = 0;  // receiver's slot FIFO (the peer writes frames there)
  uint32_t fifoRkey = 0;
  uint64_t creditAddr = 0;  // sender's credit word (the peer writes its release count there)
  uint32_t creditRkey = 0;
  std::vector<uint32_t> qpn;
  std::vector<uint32_t> psn;
};

std::string encodeConnInfo(const ConnInfo& c);
// Throws Error(kRemote) naming `who` when damaged or of another version.
ConnInfo decodeConnInfo(const std::string& blob, const std::string& who);

// Gbit/s of a port from ibv_port_attr.active_width and active_speed (0 for unknown codes).
double portRateGbps(uint8_t activeWidth, uint8_t activeSpeed);

enum class GidType : uint8_t { kInfiniBand, kRoceV1, kRoceV2 };
struct GidEntry {
  int index = 0;
  GidType type = GidType::kInfiniBand;
  std::array<uint8_t, 16> gid{};
};
// The GID index to use: `forced` (PLEXUS_IB_GID_INDEX) if given and present; else on Ethernet the
// first RoCE v2 GID with an IPv4-mapped address, then RoCE v2 with a global IPv6 address, then any
// RoCE v2, then the first non-zero GID; on InfiniBand index 0. nullopt if nothing usable.
std::optional<int> chooseGidIndex(const std::vector<GidEntry>& table, LinkLayer linkLayer,
                                  std::optional<int> forced);

// Immediate data of an RDMA write with immediate: frame number (low 24 bits) and piece count, or a
// credit update.
constexpr uint32_t kCreditImm = 0xffffffffu;
inline uint32_t frameImm(uint64_t frame, uint32_t parts) {
  return (static_cast<uint32_t>(frame & 0xffffff) << 8) | (parts & 0xff);
}
inline uint64_t immFrame(uint32_t imm, uint64_t near) {
  uint32_t low = imm >> 8;
  uint64_t base = near & ~uint64_t{0xffffff};
  uint64_t f = base | low;
  if (f + 0x800000 < near) f += 0x1000000;  // wrapped past `near`
  return f;
}
inline uint32_t immParts(uint32_t imm) {
  return imm & 0xff;
}

}  // namespace plexus::transport::ib
