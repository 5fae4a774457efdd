// Checks of the bootstrap's wire messages (protocol.hpp), apart from the sockets that carry them:
// what the root makes of a rank's introduction, what a rank makes of the root's answer and of a
// link's introduction. Pure functions, so that tests/fuzz feeds them arbitrary bytes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/socket.hpp"
#include "runtime/protocol.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::runtime {

// The most ranks the root makes room for: a larger nranks in an introduction is refused, not
// allocated (each rank's slot holds its connection and address).
constexpr int kMaxBootstrapRanks = 1 << 20;

// Constant-time comparison of two 16-byte secrets.
bool sameSecret(const uint8_t* a, const uint8_t* b);

// The root's verdict on a complete RootHello: empty when it is an introduction of this job (magic,
// version, secret and nonce match), else why the connection is dropped.
std::string rootHelloProblem(const RootHello& h, const Secret& secret, uint64_t nonce);
// Empty when the hello names a valid slot (0 <= rank < nranks <= kMaxBootstrapRanks), else the
// refusal text.
std::string rankSlotProblem(const RootHello& h);

WireAddress addressToWire(const SocketAddress& a);
// An IPv4 or IPv6 socket address of exactly its family's length; nullopt for anything else.
std::optional<SocketAddress> addressFromWire(const WireAddress& w);

// A rank's check of the root's answer header for a communicator of `nranks`: empty when the
// 2 * rounds addresses that follow may be read (or ok == 0: the refusal text follows in message).
std::string rootReplyProblem(const RootReply& r, int nranks);
// The addresses that follow a RootReply: `rounds` ahead, then `rounds` behind. Throws
// Error(kRemote) naming the first malformed one.
void decodeRootPeers(const std::vector<WireAddress>& peers, size_t rounds,
                     std::vector<SocketAddress>& ahead, std::vector<SocketAddress>& behind);
// A host name into a WireRank's or RootHello's field (cut, NUL-padded), and back: printable name
// characters only (others become ?), at most kWireHostBytes - 1, whatever the bytes were.
void hostToWire(const std::string& host, char (&out)[kWireHostBytes]);
std::string hostFromWire(const char (&in)[kWireHostBytes]);
// The refusal text of a reply with ok == 0, terminated whatever the bytes were.
std::string rootRefusal(const RootReply& r);

enum class LinkVerdict { kAccept, kForeign, kUnexpected };
// A rank's verdict on a LinkHello arriving at its listener: this job's (magic, commId, secret), and
// from the rank expected in that round (rank - 2^round), round in [0, rounds).
LinkVerdict judgeLinkHello(const LinkHello& h, uint64_t commId, const Secret& secret, int rank,
                           int nranks, size_t rounds);

}  // namespace plexus::runtime
