// ibverbs wire formats and pure decisions: the address blob (versioned container with the port
// list), the per-connection record, immediate data, port rates and GID index choice.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "transports/ibverbs/ib_wire.hpp"
#include "transports/plugin_common/address_blob.hpp"

namespace plexus::transport::ib {
namespace {

std::array<uint8_t, 16> gidOf(std::initializer_list<uint8_t> bytes) {
  std::array<uint8_t, 16> g{};
  size_t i = 0;
  for (uint8_t b : bytes) g[i++] = b;
  return g;
}

std::array<uint8_t, 16> v4mapped(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return gidOf({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d});
}

TEST(IbAddress, PortsRoundTripInsideTheVersionedBlob) {
  std::vector<PortAddress> ports(2);
  ports[0].subnetPrefix = 0xfe80000000000000ull;
  ports[0].lid = 17;
  ports[0].port = 1;
  ports[0].linkLayer = LinkLayer::kInfiniBand;
  ports[0].gid = gidOf({0xfe, 0x80, 1, 2, 3});
  ports[1].port = 2;
  ports[1].linkLayer = LinkLayer::kEthernet;
  ports[1].gid = v4mapped(10, 0, 0, 7);
  AddressBlob b;
  b.fields[AddressBlob::kSideband] = "sockaddr";
  b.fields[AddressBlob::kPorts] = encodePorts(ports);
  std::string wire = b.encode();
  AddressBlob d = AddressBlob::decode(wire, "rank 1 (host b)", "ibverbs");
  auto back = decodePorts(*d.field(AddressBlob::kPorts), "rank 1 (host b)");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].subnetPrefix, ports[0].subnetPrefix);
  EXPECT_EQ(back[0].lid, 17);
  EXPECT_EQ(back[0].gid, ports[0].gid);
  EXPECT_EQ(back[1].linkLayer, LinkLayer::kEthernet);
  EXPECT_EQ(back[1].port, 2);
  EXPECT_EQ(back[1].gid, ports[1].gid);
  EXPECT_TRUE(decodePorts(encodePorts({}), "x").empty());
}

TEST(IbAddress, DamagedPortListsAreRefusedNamingTheRank) {
  std::string good = encodePorts(std::vector<PortAddress>(1));
  for (std::string bad : {good.substr(0, good.size() - 1), good + "x", std::string("\x05", 1)}) {
    try {
      decodePorts(bad, "rank 3 (host c)");
      ADD_FAILURE() << "accepted " << bad.size() << " bytes";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rank 3 (host c)"), std::string::npos);
    }
  }
  std::string wrongLink = good;
  wrongLink[2 + 8 + 2 + 1] = 9;  // link layer byte of the first port
  EXPECT_THROW(decodePorts(wrongLink, "r"), Error);
}

TEST(IbConnInfo, RoundTripWithSeveralQueuePairs) {
  ConnInfo c;
  c.slots = 8;
  c.slotBytes = 524288;
  c.lid = 4;
  c.port = 1;
  c.mtu = 5;
  c.linkLayer = LinkLayer::kEthernet;
  c.gid = v4mapped(192, 168, 1, 2);
  c.fifoAddr = 0x7f0000001000ull;
  c.fifoRkey = 0x1234;
  c.creditAddr = 0x7f0000002000ull;
  c.creditRkey = 0x5678;
  c.qpn = {100, 101, 102};
  c.psn = {7, 8, 0xffffff};
  ConnInfo d = decodeConnInfo(encodeConnInfo(c), "rank 1");
  EXPECT_EQ(d.version, ConnInfo::kVersion);
  EXPECT_EQ(d.slots, 8u);
  EXPECT_EQ(d.slotBytes, 524288u);
  EXPECT_EQ(d.lid, 4);
  EXPECT_EQ(d.mtu, 5);
  EXPECT_EQ(d.linkLayer, LinkLayer::kEthernet);
  EXPECT_EQ(d.gid, c.gid);
  EXPECT_EQ(d.fifoAddr, c.fifoAddr);
  EXPECT_EQ(d.fifoRkey, c.fifoRkey);
  EXPECT_EQ(d.creditAddr, c.creditAddr);
  EXPECT_EQ(d.creditRkey, c.creditRkey);
  EXPECT_EQ(d.qpn, c.qpn);
  EXPECT_EQ(d.psn, c.psn);
}

TEST(IbConnInfo, OtherVersionsAndDamageAreRefused) {
  ConnInfo c;
  c.qpn = {1};
  c.psn = {2};
  std::string wire = encodeConnInfo(c);
  std::string newer = wire;
  newer[0] = 2;
  try {
    decodeConnInfo(newer, "rank 5 (host e)");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote);
    EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 5 (host e)"), std::string::npos);
  }
  EXPECT_THROW(decodeConnInfo(wire.substr(0, wire.size() - 2), "r"), Error);
  EXPECT_THROW(decodeConnInfo(wire + "zz", "r"), Error);
  EXPECT_THROW(decodeConnInfo("", "r"), Error);
  ConnInfo none;  // no queue pairs
  EXPECT_THROW(decodeConnInfo(encodeConnInfo(none), "r"), Error);
}

TEST(IbImmediate, FrameNumbersSurviveTheTwentyFourBitWrap) {
  EXPECT_EQ(immParts(frameImm(5, 3)), 3u);
  EXPECT_EQ(immFrame(frameImm(5, 1), 0), 5u);
  EXPECT_EQ(immFrame(frameImm(5, 1), 3), 5u);
  // Frames just past a 2^24 boundary, seen from just before it.
  uint64_t near = 0x1fffff0;
  EXPECT_EQ(immFrame(frameImm(0x2000005, 2), near), 0x2000005u);
  EXPECT_EQ(immFrame(frameImm(0x1fffff8, 2), near), 0x1fffff8u);
  for (uint64_t f = 0xfffff0; f < 0x1000010; ++f)
    EXPECT_EQ(immFrame(frameImm(f, 1), f - (f % 7)), f);
  // A frame never looks like a credit: pieces are at most 16 (PLEXUS_IB_QPS_PER_CONNECTION).
  EXPECT_NE(frameImm(0xffffff, 16), kCreditImm);
  EXPECT_EQ(immParts(kCreditImm), 0xffu);
}

TEST(IbPortRate, KnownWidthsAndSpeeds) {
  EXPECT_DOUBLE_EQ(portRateGbps(2, 32), 100.0);   // 4x EDR
  EXPECT_DOUBLE_EQ(portRateGbps(2, 64), 200.0);   // 4x HDR
  EXPECT_DOUBLE_EQ(portRateGbps(2, 128), 400.0);  // 4x NDR
  EXPECT_DOUBLE_EQ(portRateGbps(1, 1), 2.5);      // 1x SDR
  EXPECT_DOUBLE_EQ(portRateGbps(16, 64), 100.0);  // 2x HDR
  EXPECT_DOUBLE_EQ(portRateGbps(8, 4), 120.0);    // 12x QDR
  EXPECT_DOUBLE_EQ(portRateGbps(2, 16), 56.0);    // 4x FDR
  EXPECT_DOUBLE_EQ(portRateGbps(3, 32), 0.0);
  EXPECT_DOUBLE_EQ(portRateGbps(2, 3), 0.0);
}

TEST(IbGid, RoceV2WithIpv4IsPreferred) {
  std::vector<GidEntry> t = {
      {0, GidType::kRoceV1, gidOf({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 1})},
      {1, GidType::kRoceV2, gidOf({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 1})},
      {2, GidType::kRoceV1, v4mapped(10, 0, 0, 1)},
      {3, GidType::kRoceV2, v4mapped(10, 0, 0, 1)},
  };
  EXPECT_EQ(chooseGidIndex(t, LinkLayer::kEthernet, std::nullopt), 3);
  t.pop_back();  // no v4: the link-local v2 beats v1
  EXPECT_EQ(chooseGidIndex(t, LinkLayer::kEthernet, std::nullopt), 1);
  std::vector<GidEntry> global = {{1, GidType::kRoceV2, gidOf({0xfe, 0x80, 9})},
                                  {4, GidType::kRoceV2, gidOf({0x20, 0x01, 0x0d, 0xb8, 1})}};
  EXPECT_EQ(chooseGidIndex(global, LinkLayer::kEthernet, std::nullopt), 4);
  std::vector<GidEntry> v1only = {{0, GidType::kRoceV1, {}},
                                  {1, GidType::kRoceV1, v4mapped(1, 2, 3, 4)}};
  EXPECT_EQ(chooseGidIndex(v1only, LinkLayer::kEthernet, std::nullopt), 1);
}

TEST(IbGid, ForcedIndexAndInfiniBand) {
  std::vector<GidEntry> t = {{0, GidType::kInfiniBand, gidOf({0xfe, 0x80, 1})},
                             {1, GidType::kRoceV2, v4mapped(10, 0, 0, 1)},
                             {2, GidType::kRoceV2, {}}};
  EXPECT_EQ(chooseGidIndex(t, LinkLayer::kEthernet, 0), 0);
  EXPECT_EQ(chooseGidIndex(t, LinkLayer::kEthernet, 2), std::nullopt);  // empty entry
  EXPECT_EQ(chooseGidIndex(t, LinkLayer::kEthernet, 7), std::nullopt);  // no such index
  EXPECT_EQ(chooseGidIndex(t, LinkLayer::kInfiniBand, std::nullopt), 0);
  EXPECT_EQ(chooseGidIndex({}, LinkLayer::kInfiniBand, std::nullopt), std::nullopt);
  EXPECT_EQ(chooseGidIndex({{0, GidType::kRoceV2, {}}}, LinkLayer::kEthernet, std::nullopt),
            std::nullopt);
}

}  // namespace
}  // namespace plexus::transport::ib
