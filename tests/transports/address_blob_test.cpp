// The versioned address blob of the network plugins: round trip, unknown fields skipped (newer
// minor versions), other major versions and damage refused with a message naming the rank.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "transports/plugin_common/address_blob.hpp"

namespace plexus::transport {
namespace {

std::string messageOf(const std::string& blob) {
  try {
    AddressBlob::decode(blob, "rank 2 (host b)", "ofi");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidUsage);
    return e.what();
  }
  return "";
}

TEST(AddressBlob, RoundTrip) {
  AddressBlob b;
  b.fields[AddressBlob::kSideband] = std::string("\x02\x00\x1f\x90\x7f\x00\x00\x01", 8);
  b.fields[AddressBlob::kFabric] = std::string(300, '\xab');
  b.fields[40] = "";
  AddressBlob d = AddressBlob::decode(b.encode(), "r", "ofi");
  EXPECT_EQ(d.major, AddressBlob::kMajor);
  EXPECT_EQ(d.minor, AddressBlob::kMinor);
  EXPECT_EQ(d.fields, b.fields);
  EXPECT_EQ(d.field(99), nullptr);
  EXPECT_EQ(*d.field(40), "");
}

TEST(AddressBlob, NewerMinorVersionWithUnknownFieldsIsRead) {
  AddressBlob b;
  b.minor = AddressBlob::kMinor + 3;
  b.fields[AddressBlob::kFabric] = "addr";
  b.fields[777] = "something a newer Plexus publishes";
  AddressBlob d = AddressBlob::decode(b.encode(), "r", "ofi");
  EXPECT_EQ(d.minor, AddressBlob::kMinor + 3);
  EXPECT_EQ(*d.field(AddressBlob::kFabric), "addr");
}

TEST(AddressBlob, OtherMajorVersionIsRefusedNamingRankAndVersions) {
  AddressBlob b;
  b.major = AddressBlob::kMajor + 1;
  std::string m = messageOf(b.encode());
  EXPECT_NE(m.find("rank 2 (host b)"), std::string::npos) << m;
  EXPECT_NE(m.find("version 2.0"), std::string::npos) << m;
  EXPECT_NE(m.find("same Plexus version"), std::string::npos) << m;
}

TEST(AddressBlob, DamageIsRefused) {
  AddressBlob b;
  b.fields[AddressBlob::kFabric] = "0123456789";
  std::string wire = b.encode();
  EXPECT_NE(messageOf(""), "");
  EXPECT_NE(messageOf("PXN"), "");
  EXPECT_NE(messageOf(std::string("XXXX") + wire.substr(4)), "");  // magic
  EXPECT_NE(messageOf(wire.substr(0, wire.size() - 1)), "");       // truncated field
  EXPECT_NE(messageOf(wire + "!"), "");                            // trailing bytes
  EXPECT_NE(messageOf(wire.substr(0, 10)), "");                    // truncated header
  EXPECT_NE(messageOf(wire).size(), 1u);
  EXPECT_EQ(messageOf(wire), "");
}

}  // namespace
}  // namespace plexus::transport
