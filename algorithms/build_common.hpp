// Internal helpers shared by the builders: the plan header with NCCL's buffer sizes, request
// validation (the one place the builders check their requests), message-size limits, and a step
// writer that names peers explicitly and drops zero-element steps.
//
// Deadlock rule the exchange-style builders follow (recursive halving/doubling, Bruck, direct,
// pairwise, dissemination): every rank runs the same sequence of *phases*; in a phase a rank first
// sends, then receives, never with fused steps, and the elements it sends to one peer in one phase
// total at most exchangeMessage() (fifoElems / 2). Then the rank in the earliest phase can always
// proceed: its receive's sender has passed its sends of that phase, and its own sends find room
// because a FIFO only fills when its receiver lags two phases behind. Trees and chains have no
// cycle and use messages up to treeMessage() (fifoElems).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "algorithms/builders.hpp"
#include "plan/plan.hpp"

namespace plexus::algo::detail {

inline Slice in(uint64_t offset, uint64_t count) {
  return {Buffer::kInput, offset, count};
}
inline Slice out(uint64_t offset, uint64_t count) {
  return {Buffer::kOutput, offset, count};
}
inline Slice scr(uint64_t offset, uint64_t count) {
  return {Buffer::kScratch, offset, count};
}
inline Slice at(Buffer b, uint64_t offset, uint64_t count) {
  return {b, offset, count};
}

// Broadcast, reduce, gather, scatter.
bool rootedCollective(Collective c);

// The plan of request r with the buffer sizes NCCL passes (input/output), root set for rooted
// collectives (-1 otherwise), and `nchannels` channels on connections 0..nchannels-1.
Plan planHeader(const BuildRequest& r, const char* algorithm, int nchannels);

// What a builder reads of a request beyond the fields every builder uses.
struct RequestUse {
  bool ringOrders = false;   // BuildRequest::rings: one order, or one per channel
  bool twoMessages = false;  // fused steps around a cycle: fifoElems must hold two messages
  bool domains = false;      // BuildRequest::groups (hierarchical algorithms)
};

// The one place the builders check their requests. Throws Error(kInvalidArgument) naming
// `algorithm` and the collective when the request is malformed: a collective the builder does not
// implement (`supported`), nranks, rank, nchannels, root of rooted collectives, n * count
// overflow, and what `use` names: ring orders that are not permutations (or not 1 or nchannels of
// them), fifoElems == 1 for a cycle on more than one rank, unusable domains (domainsProblem).
void validateRequest(const BuildRequest& r, const char* algorithm,
                     std::initializer_list<Collective> supported, RequestUse use = {});

// Why request.groups cannot serve a hierarchical algorithm (empty when they can): no domains,
// domains of unequal size, a rank outside 0..nranks-1 or listed twice, not every rank covered.
std::string domainsProblem(const BuildRequest& r);

// Largest message of an exchange-style (cyclic) builder: fifoElems / 2 (at least 1), unbounded
// when fifoElems == 0, and at most chunkElems when that is set.
uint64_t exchangeMessage(const BuildRequest& r);
// Largest message of a tree or chain (acyclic): fifoElems, unbounded when 0, capped by chunkElems.
uint64_t treeMessage(const BuildRequest& r);

// Rank order 0..n-1 rotated so that `first` comes first: (first + i) % n.
inline int rotated(int first, int i, int n) {
  return (first + i) % n;
}
inline int mod(int64_t a, int n) {
  return static_cast<int>(((a % n) + n) % n);
}

// Appends steps to one channel with explicit peers; zero-element steps are dropped (builders
// drop the same message on both sides) unless keepEmpty is set (the barrier's tokens).
class Writer {
 public:
  explicit Writer(Channel& ch, bool keepEmpty = false) : ch_(ch), keepEmpty_(keepEmpty) {}

  void send(int to, Slice src) { add(StepKind::kSend, -1, to, src, {}, {}, false); }
  void recv(int from, Slice dst) { add(StepKind::kRecv, from, -1, {}, {}, dst, false); }
  void recvReduce(int from, Slice src, Slice dst, bool fin) {
    add(StepKind::kRecvReduce, from, -1, src, {}, dst, fin);
  }
  void recvReduceSend(int from, int to, Slice src, bool fin = false) {
    add(StepKind::kRecvReduceSend, from, to, src, {}, {}, fin);
  }
  void recvReduceCopySend(int from, int to, Slice src, Slice dst, bool fin) {
    add(StepKind::kRecvReduceCopySend, from, to, src, {}, dst, fin);
  }
  void recvCopySend(int from, int to, Slice dst) {
    add(StepKind::kRecvCopySend, from, to, {}, {}, dst, false);
  }
  void copy(Slice src, Slice dst, bool fin) { add(StepKind::kCopy, -1, -1, src, {}, dst, fin); }
  void reduce(Slice a, Slice b, Slice dst, bool fin) {
    add(StepKind::kReduce, -1, -1, a, b, dst, fin);
  }

 private:
  void add(StepKind kind, int from, int to, Slice src, Slice src2, Slice dst, bool fin);
  Channel& ch_;
  bool keepEmpty_;
};

// Splits [0, len) into parts of at most maxPart elements, all within one element of each other:
// part i of partsOfAtMost(len, maxPart).
std::vector<std::pair<uint64_t, uint64_t>> pieces(uint64_t len, uint64_t maxPart);

// Number of the channels a builder uses: the request's, at most kMaxChannels.
int channelsOf(const BuildRequest& r);

}  // namespace plexus::algo::detail
