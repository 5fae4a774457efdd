// Checks of the bootstrap's wire messages (bootstrap_wire.hpp).
#include "runtime/bootstrap_wire.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "base/error.hpp"
#include "runtime/bootstrap_links.hpp"

namespace plexus::runtime {

bool sameSecret(const uint8_t* a, const uint8_t* b) {
  uint8_t diff = 0;
  for (int i = 0; i < 16; ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

std::string rootHelloProblem(const RootHello& h, const Secret& secret, uint64_t nonce) {
  constexpr const char* kForeign =
      "did not present this job's secret (a stray or foreign connection";
  if (h.magic != kRootHelloMagic) return formatString("%s: no bootstrap magic number)", kForeign);
  if (h.version != kProtocolVersion)
    return formatString("%s, or a Plexus build of bootstrap protocol version %u, not %u)", kForeign,
                        h.version, kProtocolVersion);
  if (!sameSecret(h.secret, secret.data()) || h.nonce != nonce)
    return std::string(kForeign) +
           "; if it was a rank of this job, it has another PLEXUS_SECRET or unique id: set "
           "PLEXUS_SECRET alike on every rank)";
  return "";
}

std::string rankSlotProblem(const RootHello& h) {
  if (h.nranks <= 0 || h.rank < 0 || h.rank >= h.nranks)
    return formatString("rank %d of %d is not a valid rank", h.rank, h.nranks);
  if (h.nranks > kMaxBootstrapRanks)
    return formatString("rank %d says there are %d ranks, more than the bootstrap's limit of %d",
                        h.rank, h.nranks, kMaxBootstrapRanks);
  return "";
}

WireAddress addressToWire(const SocketAddress& a) {
  WireAddress w{};
  w.length = a.length;
  std::memcpy(w.bytes, &a.storage, a.length);
  return w;
}

std::optional<SocketAddress> addressFromWire(const WireAddress& w) {
  sa_family_t family = 0;
  if (w.length < sizeof(family) || w.length > sizeof(w.bytes)) return std::nullopt;
  std::memcpy(&family, w.bytes, sizeof(family));
  const bool ok = (family == AF_INET && w.length == sizeof(sockaddr_in)) ||
                  (family == AF_INET6 && w.length == sizeof(sockaddr_in6));
  if (!ok) return std::nullopt;
  return SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(w.bytes), w.length);
}

std::string rootReplyProblem(const RootReply& r, int nranks) {
  if (r.ok == 0) return "";
  if (r.ok != 1) return formatString("the root answered with an unknown status %u", r.ok);
  if (r.rounds != static_cast<uint32_t>(bootstrapRounds(nranks)))
    return formatString("the root sent %u link addresses for %d ranks", r.rounds, nranks);
  return "";
}

void decodeRootPeers(const std::vector<WireAddress>& peers, size_t rounds,
                     std::vector<SocketAddress>& ahead, std::vector<SocketAddress>& behind) {
  if (peers.size() != 2 * rounds)
    throwError(ErrorCode::kRemote, "bootstrap: the root sent %zu addresses where %zu were due",
               peers.size(), 2 * rounds);
  for (size_t i = 0; i < peers.size(); ++i) {
    auto a = addressFromWire(peers[i]);
    if (!a)
      throwError(ErrorCode::kRemote,
                 "bootstrap: malformed address %zu of %zu from the root (length %u)", i + 1,
                 peers.size(), peers[i].length);
    (i < rounds ? ahead : behind).push_back(*a);
  }
}

void hostToWire(const std::string& host, char (&out)[kWireHostBytes]) {
  std::memset(out, 0, sizeof(out));
  std::memcpy(out, host.data(), std::min(host.size(), sizeof(out) - 1));
}

std::string hostFromWire(const char (&in)[kWireHostBytes]) {
  std::string host;
  for (size_t i = 0; i + 1 < sizeof(in) && in[i] != '\0'; ++i) {
    const char c = in[i];
    const bool nameChar =
        std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
    host += nameChar ? c : '?';
  }
  return host;
}

std::string rootRefusal(const RootReply& r) {
  return std::string(r.message, strnlen(r.message, sizeof(r.message)));
}

LinkVerdict judgeLinkHello(const LinkHello& h, uint64_t commId, const Secret& secret, int rank,
                           int nranks, size_t rounds) {
  if (h.magic != kLinkHelloMagic || h.commId != commId || !sameSecret(h.secret, secret.data()))
    return LinkVerdict::kForeign;
  if (h.round < 0 || static_cast<size_t>(h.round) >= rounds ||
      h.fromRank != bootstrapPeer(rank, nranks, h.round, -1))
    return LinkVerdict::kUnexpected;
  return LinkVerdict::kAccept;
}

}  // namespace plexus::runtime
