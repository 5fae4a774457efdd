// Fuzz targets for what the bootstrap reads from the network: the root's view of a connection
// (RootHello), a rank's view of the root's answer, of a link's introduction and of the
// length-prefixed all-gather stream, and the unique id a rank is given.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "fuzz_targets.hpp"
#include "runtime/bootstrap_exchange.hpp"
#include "runtime/bootstrap_links.hpp"
#include "runtime/bootstrap_wire.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::fuzz {
namespace {

using namespace plexus::runtime;

// Takes sizeof(T) bytes (zero-filled past the end of the input).
template <typename T>
T take(const uint8_t*& data, size_t& size) {
  T v{};
  const size_t n = std::min(size, sizeof(T));
  std::memcpy(&v, data, n);
  data += n;
  size -= n;
  return v;
}

void checkAddress(const SocketAddress& a) {
  if (a.family() != AF_INET && a.family() != AF_INET6)
    broken("addressFromWire let a family through");
  if (a.toString().empty()) broken("an accepted address prints as nothing");
  (void)a.isLoopback();
}

// A stream of bytes as a bootstrap link delivers them: exchangeMessage on a socket pair whose far
// end sent `stream` and closed.
void exchangeStream(const uint8_t* data, size_t size, size_t blobs) {
  int in[2], out[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) return;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return;
  }
  BootstrapLink from, to;
  from.fd = Fd(in[0]);
  to.fd = Fd(out[0]);
  Fd peerIn(in[1]), peerOut(out[1]);
  const size_t sent =
      size == 0 ? 0 : static_cast<size_t>(::send(in[1], data, size, MSG_NOSIGNAL | MSG_DONTWAIT));
  (void)sent;
  peerIn.reset();
  try {
    std::string msg = exchangeMessage(to, std::string(), from,
                                      Deadline::after(std::chrono::seconds(5)), nullptr, "fuzz");
    std::vector<std::string> held;
    decodeBlobs(msg, blobs, held, "fuzz");
    size_t total = blobs * sizeof(uint64_t);
    for (const auto& b : held) total += b.size();
    if (held.size() != blobs || total != msg.size()) broken("decodeBlobs lost or invented bytes");
  } catch (const Error&) {
  }
}

}  // namespace

int bootstrapRoot(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = take<uint8_t>(data, size);
  const RootHello h = take<RootHello>(data, size);
  Secret secret{};
  uint64_t nonce = 0x1234;
  if (flags & 1) {  // the fuzzer cannot guess 16 random bytes: let it be this job's half the time
    std::memcpy(secret.data(), h.secret, secret.size());
    nonce = h.nonce;
  }
  if (!rootHelloProblem(h, secret, nonce).empty()) return 0;
  if (!rankSlotProblem(h).empty()) return 0;
  if (h.nranks <= 0 || h.nranks > kMaxBootstrapRanks || h.rank < 0 || h.rank >= h.nranks)
    broken("rankSlotProblem admitted an impossible slot");
  if (auto a = addressFromWire(h.listenAddress)) checkAddress(*a);
  return 0;
}

int bootstrapPeer(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int nranks = 1 + take<uint8_t>(data, size) % 64;
  const uint8_t what = take<uint8_t>(data, size) % 3;
  if (what == 0) {  // the root's answer: header, 2 * rounds addresses and ranks
    const RootReply r = take<RootReply>(data, size);
    if (!rootReplyProblem(r, nranks).empty()) return 0;
    if (r.ok == 0) {
      if (rootRefusal(r).size() >= sizeof(r.message)) broken("refusal text not terminated");
      return 0;
    }
    std::vector<WireAddress> peers(2 * size_t{r.rounds});
    for (auto& p : peers) p = take<WireAddress>(data, size);
    std::vector<SocketAddress> ahead, behind;
    try {
      decodeRootPeers(peers, r.rounds, ahead, behind);
    } catch (const Error&) {
      return 0;
    }
    if (ahead.size() != r.rounds || behind.size() != r.rounds) broken("decodeRootPeers miscounted");
    for (const auto& a : ahead) checkAddress(a);
    for (size_t i = 0; i < peers.size(); ++i) {  // then who listens there: host names
      const WireRank w = take<WireRank>(data, size);
      const std::string host = hostFromWire(w.host);
      if (host.size() >= sizeof(w.host)) broken("hostFromWire ran past the field");
      for (char c : host)
        if (c < 0x21 || c > 0x7e) broken("hostFromWire let an unprintable byte through");
    }
  } else if (what == 1) {  // a link's introduction at this rank's listener
    const int rank = take<uint8_t>(data, size) % nranks;
    const LinkHello h = take<LinkHello>(data, size);
    Secret secret{};
    std::memcpy(secret.data(), h.secret, secret.size());
    const size_t rounds = static_cast<size_t>(bootstrapRounds(nranks));
    if (judgeLinkHello(h, h.commId, secret, rank, nranks, rounds) == LinkVerdict::kAccept &&
        (h.round < 0 || static_cast<size_t>(h.round) >= rounds))
      broken("judgeLinkHello accepted a round out of range");
  } else {  // the all-gather stream of one round: 8-byte length, then blobs
    exchangeStream(data, size, static_cast<size_t>(nranks) - 1);
  }
  return 0;
}

int uniqueId(const uint8_t* data, size_t size) {
  UniqueIdBytes bytes{};
  std::memcpy(bytes.data(), data, std::min(size, bytes.size()));
  try {
    const UniqueId id = UniqueId::decode(bytes);
    checkAddress(id.root);
    const UniqueId again = UniqueId::decode(id.encode());
    if (again.nonce != id.nonce || again.secret != id.secret || again.root.length != id.root.length)
      broken("unique id does not survive encode/decode");
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace plexus::fuzz
