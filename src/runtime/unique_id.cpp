// Unique id encoding and creation.
#include "runtime/unique_id.hpp"

#include <cstring>

#include "base/error.hpp"
#include "base/host_id.hpp"
#include "base/log.hpp"
#include "base/random.hpp"
#include "runtime/bootstrap_wire.hpp"
#include "runtime/root_service.hpp"

namespace plexus::runtime {
namespace {

constexpr uint32_t kIdMagic = 0x504c5855;  // "PLXU"
constexpr uint16_t kIdVersion = 1;

struct IdLayout {
  uint32_t magic;
  uint16_t version;
  uint8_t flags;
  uint8_t addressLength;
  uint8_t secret[16];
  uint64_t nonce;
  uint8_t address[sizeof(sockaddr_in6)];
};
static_assert(sizeof(IdLayout) <= kUniqueIdBytes);

}  // namespace

UniqueIdBytes UniqueId::encode() const {
  IdLayout l{};
  l.magic = kIdMagic;
  l.version = kIdVersion;
  l.flags = rootStartedByRank0 ? 1 : 0;
  if (root.length > sizeof(l.address))
    throwError(ErrorCode::kInternal, "bootstrap address too long for a unique id");
  l.addressLength = static_cast<uint8_t>(root.length);
  std::memcpy(l.address, &root.storage, root.length);
  std::memcpy(l.secret, secret.data(), secret.size());
  l.nonce = nonce;
  UniqueIdBytes out{};
  std::memcpy(out.data(), &l, sizeof(l));
  return out;
}

UniqueId UniqueId::decode(const UniqueIdBytes& bytes) {
  IdLayout l;
  std::memcpy(&l, bytes.data(), sizeof(l));
  if (l.magic != kIdMagic || l.version != kIdVersion || l.addressLength == 0 ||
      l.addressLength > sizeof(l.address))
    throwError(ErrorCode::kInvalidArgument,
               "the ncclUniqueId passed to init is not a Plexus unique id (bad magic/version); "
               "check that every rank received the bytes ncclGetUniqueId produced");
  WireAddress wire{};
  wire.length = l.addressLength;
  std::memcpy(wire.bytes, l.address, l.addressLength);
  const std::optional<SocketAddress> root = addressFromWire(wire);
  if (!root)
    throwError(ErrorCode::kInvalidArgument,
               "the ncclUniqueId passed to init holds no IPv4 or IPv6 root address (length %u); "
               "check that every rank received the bytes ncclGetUniqueId produced",
               static_cast<unsigned>(l.addressLength));
  UniqueId id;
  id.root = *root;
  std::memcpy(id.secret.data(), l.secret, id.secret.size());
  id.nonce = l.nonce;
  id.rootStartedByRank0 = (l.flags & 1) != 0;
  return id;
}

UniqueId createRootAndId() {
  auto ifs = selectInterfaces();
  SocketAddress addr = ifs.front().address;
  addr.setPort(0);
  Fd listener = listenOn(addr);
  UniqueId id;
  id.root = addr;
  randomBytes(id.secret.data(), id.secret.size());
  id.nonce = randomU64();
  id.rootStartedByRank0 = false;
  PLEXUS_INFO(subsys::kBootstrap, "bootstrap root listening on %s (%s)", addr.toString().c_str(),
              ifs.front().name.c_str());
  startRoot(std::move(listener), id.secret, id.nonce, addr);
  return id;
}

UniqueId idFromAddress(const std::string& rootAddress, const Secret& secret) {
  auto addr = SocketAddress::parse(rootAddress);
  if (!addr)
    throwError(ErrorCode::kInvalidArgument,
               "cannot resolve the bootstrap root address '%s' (from PLEXUS_COMM_ID, NCCL_COMM_ID "
               "or MASTER_ADDR/MASTER_PORT): set host:port, e.g. 10.0.0.1:29501 or [::1]:29501, "
               "with a host name this machine resolves",
               rootAddress.c_str());
  UniqueId id;
  id.root = *addr;
  id.secret = secret;
  std::string key = addr->toString();
  id.nonce = fnv1a64(key.data(), key.size(), fnv1a64(secret.data(), secret.size()));
  id.rootStartedByRank0 = true;
  return id;
}

Secret parseSecretHex(const std::string& hex) {
  Secret s{};
  if (hex.size() != 32)
    throwError(ErrorCode::kInvalidArgument,
               "PLEXUS_SECRET must be 32 hex digits (got %zu characters; the value is not shown): "
               "set the same 32-digit value on every rank (e.g. from `openssl rand -hex 16`; "
               "plexus-run sets one), or unset it",
               hex.size());
  for (size_t i = 0; i < 16; ++i) {
    auto nib = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      throwError(ErrorCode::kInvalidArgument,
                 "PLEXUS_SECRET contains a non-hex character '%c': set 32 digits 0-9 a-f, the "
                 "same on every rank, or unset it",
                 c);
    };
    s[i] = static_cast<uint8_t>(nib(hex[2 * i]) * 16 + nib(hex[2 * i + 1]));
  }
  return s;
}

}  // namespace plexus::runtime
