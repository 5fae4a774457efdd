// The address blob format of the network plugins: what each rank publishes through the bootstrap
// all-gather. A small versioned container of typed fields:
//
//   u32 magic "PXNA" | u16 major | u16 minor | u32 field count |
//   per field: u16 type | u16 flags (0) | u32 length | length bytes
//
// Readers accept any minor version of their major version and skip field types they do not know
// (so a newer minor may add fields); a different major version or a damaged blob is refused with
// an error that says which rank and what to check. Integers are little-endian (the hosts of one
// job share the byte order; the magic catches the rest).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace plexus::transport {

struct AddressBlob {
  static constexpr uint16_t kMajor = 1;
  static constexpr uint16_t kMinor = 0;

  // Field types shared by the plugins; each plugin may define more from 16 on.
  static constexpr uint16_t kSideband = 1;  // sockaddr bytes of the side band listener
  static constexpr uint16_t kFabric = 2;    // the fabric's own address (fi_getname, UCX worker)
  static constexpr uint16_t kPorts = 16;    // ibverbs: the rank's usable ports

  uint16_t major = kMajor;
  uint16_t minor = kMinor;
  std::map<uint16_t, std::string> fields;

  std::string encode() const;
  // Parses a blob; throws Error(kInvalidUsage) naming `who` ("rank 3 (host b)") when the blob is
  // damaged or of another major version.
  static AddressBlob decode(const std::string& blob, const std::string& who,
                            const std::string& transport);

  const std::string* field(uint16_t type) const {
    auto it = fields.find(type);
    return it == fields.end() ? nullptr : &it->second;
  }
};

}  // namespace plexus::transport
