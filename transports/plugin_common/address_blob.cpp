// Versioned address blob of the network plugins (see address_blob.hpp).
#include "transports/plugin_common/address_blob.hpp"

#include <cstring>

#include "base/error.hpp"

namespace plexus::transport {
namespace {

constexpr uint32_t kMagic = 0x414e5850;  // "PXNA" in memory order

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}

template <typename T>
bool get(const std::string& in, size_t& pos, T* v) {
  if (pos > in.size() || in.size() - pos < sizeof(T)) return false;
  std::memcpy(v, in.data() + pos, sizeof(T));
  pos += sizeof(T);
  return true;
}

}  // namespace

std::string AddressBlob::encode() const {
  std::string out;
  put(out, kMagic);
  put(out, major);
  put(out, minor);
  put(out, static_cast<uint32_t>(fields.size()));
  for (const auto& [type, value] : fields) {
    put(out, type);
    put(out, static_cast<uint16_t>(0));
    put(out, static_cast<uint32_t>(value.size()));
    out += value;
  }
  return out;
}

AddressBlob AddressBlob::decode(const std::string& blob, const std::string& who,
                                const std::string& transport) {
  size_t pos = 0;
  uint32_t magic = 0, count = 0;
  AddressBlob b;
  auto damaged = [&](const char* what) {
    throwError(ErrorCode::kInvalidUsage,
               "%s published a damaged %s address (%s, %zu bytes); check that every rank runs "
               "the same Plexus build",
               who.c_str(), transport.c_str(), what, blob.size());
  };
  if (!get(blob, pos, &magic) || magic != kMagic) damaged("bad magic");
  if (!get(blob, pos, &b.major) || !get(blob, pos, &b.minor) || !get(blob, pos, &count))
    damaged("truncated header");
  if (b.major != kMajor)
    throwError(ErrorCode::kInvalidUsage,
               "%s published a %s address of format version %u.%u; this rank reads version %u.x: "
               "run the same Plexus version on every rank",
               who.c_str(), transport.c_str(), b.major, b.minor, kMajor);
  b.fields.clear();
  for (uint32_t i = 0; i < count; ++i) {
    uint16_t type = 0, flags = 0;
    uint32_t length = 0;
    if (!get(blob, pos, &type) || !get(blob, pos, &flags) || !get(blob, pos, &length))
      damaged("truncated field header");
    if (blob.size() - pos < length) damaged("truncated field");
    b.fields[type] = blob.substr(pos, length);
    pos += length;
  }
  if (pos != blob.size()) damaged("trailing bytes");
  return b;
}

}  // namespace plexus::transport
