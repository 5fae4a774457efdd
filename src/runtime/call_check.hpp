// PLEXUS_CHECK: before each collective, the ranks all-gather a signature of the call (its number
// on the communicator, collective, count, type, op, root), and the collective starts only once
// every signature agrees. A mismatch fails the call on every rank, each naming itself and a rank
// that called something else, instead of hanging or mixing the data of different calls. Point-to-
// point operations are not gathered: the receiver checks each piece's tag and size (the engine's
// "message mismatch" error) without the check; with it, each send is preceded by its signature,
// which the receiver compares with its receive before taking the data.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/work.hpp"
#include "runtime/op_args.hpp"

namespace plexus::runtime {

// One rank's view of a call, as it travels in the all-gather (host byte order: every rank runs
// the same build).
struct CallSignature {
  uint32_t magic = 0;
  int32_t rank = -1;
  uint64_t seq = 0;  // collectives (or sends/receives to this peer) called here before this one
  uint64_t count = 0;
  int32_t collective = 0;
  int32_t type = 0;
  int32_t op = -1;        // -1 for collectives that do not reduce
  int32_t root = -1;      // -1 for collectives without a root; the peer of a send or receive
  int32_t direction = 0;  // point-to-point: 1 send, 2 receive
  uint32_t reserved = 0;
};
constexpr uint32_t kCallSignatureMagic = 0x504c5843;  // "PLXC"

CallSignature signatureOfCall(const OpArgs& a, int rank, uint64_t seq);
// "allReduce(count=1024, float, sum)", "broadcast(count=4, int32, root=2)",
// "send(count=10, int32, to rank 3)".
std::string describeCall(const CallSignature& s);
// "" when every signature of `all` (indexed by rank) equals `all[me]` but for the rank; else
// "rank ME called X while rank R called Y (call #S on this communicator; K of N ranks called X)",
// R the first rank whose call differs from this rank's.
std::string describeMismatch(const std::vector<CallSignature>& all, int me);

// "" when the signature a sender sent (`theirs`) matches this rank's receive (`mine`), else
// "rank ME called recv(...) while rank P called send(...) (...)".
std::string describeP2PMismatch(const CallSignature& mine, const CallSignature& theirs);

// PLEXUS_CHECK (default off).
bool callCheckFromEnv();

// The check of one communicator: counts its collectives and prepares, for each, the all-gather of
// signatures that runs before it.
class CallChecker {
 public:
  CallChecker(int rank, int nranks) : rank_(rank), nranks_(nranks) {}
  // Fills `check` (buffers and arguments of the all-gather; the caller adds its plan) and sets
  // `call.gate`, which throws Error(kInvalidUsage) naming the mismatch when the gathered
  // signatures disagree (the engine puts the communicator's context before it).
  void prepare(const OpArgs& a, engine::WorkDesc& call, engine::WorkDesc& check);
  // The all-gather's arguments (uint8, one signature per rank).
  static OpArgs gatherArgs();
  // For a send or receive: `check` is the send (receive) of the signature to (from) the peer,
  // ahead of the data; a receive's gate compares it with this rank's call.
  void prepareP2P(const OpArgs& a, engine::WorkDesc& call, engine::WorkDesc& check);

 private:
  int rank_;
  int nranks_;
  uint64_t seq_ = 0;
  std::map<std::pair<int, bool>, uint64_t> p2pSeq_;  // by (peer, send)
};

}  // namespace plexus::runtime
