// The plan IR: an algorithm is a builder that emits, for one rank, an ordered list of steps per
// channel over element ranges of three buffers (input, output, scratch). The engine executes a
// plan on real bytes; the verifier executes it symbolically for every rank at once.
//
// Semantics (all counts and offsets in elements of the operation's datatype):
//   kSend               send src to sendPeer
//   kRecv               dst <- message from recvPeer
//   kRecvReduce         dst <- src (+) message from recvPeer         (src may equal dst)
//   kRecvReduceSend     send (src (+) message from recvPeer) to sendPeer; nothing stored locally
//   kRecvReduceCopySend dst <- src (+) message from recvPeer; send that value to sendPeer
//   kRecvCopySend       dst <- message from recvPeer; send it on to sendPeer
//   kCopy               dst <- src                                     (local)
//   kReduce             dst <- src (+) src2                            (local)
// (+) is the operation's reduction. Every slice of a step has the same count, which is also the
// size of the message the step sends and/or receives. When `finalize` is set, the operation's
// post-processing (for AVG: divide by nranks) is applied to the value that the step stores or
// sends; a finalized value must not be reduced again.
//
// Ordering: channels run concurrently; the steps of a channel run in order. Each channel names
// the connection it uses; messages between two ranks over one connection and direction match in
// FIFO order. A sending step completes once its message is in the connection's FIFO, which holds
// `fifoElems` elements (Plan::fifoElems); builders keep every message within it, so a ring whose
// ranks all send first cannot deadlock.
//
// In-place calls alias the buffers as NCCL defines (all-reduce: output == input; all-gather:
// input == output + rank*count; reduce-scatter: output == input + rank*count): builders must give
// the right result under that aliasing too (the verifier checks both placements).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace plexus::algo {

enum class Collective : uint8_t {
  kAllReduce,
  kBroadcast,
  kReduce,
  kAllGather,
  kReduceScatter,
  kAllToAll,
  kGather,
  kScatter,
  kSendRecv,  // point-to-point batch (ncclSend/ncclRecv in a group)
  kBarrier,
};
const char* collectiveName(Collective c);

enum class Buffer : uint8_t { kInput, kOutput, kScratch };
const char* bufferName(Buffer b);

struct Slice {
  Buffer buffer = Buffer::kInput;
  uint64_t offset = 0;
  uint64_t count = 0;
};

enum class StepKind : uint8_t {
  kSend,
  kRecv,
  kRecvReduce,
  kRecvReduceSend,
  kRecvReduceCopySend,
  kRecvCopySend,
  kCopy,
  kReduce,
};
const char* stepKindName(StepKind k);
inline bool stepReceives(StepKind k) {
  return k != StepKind::kSend && k != StepKind::kCopy && k != StepKind::kReduce;
}
inline bool stepSends(StepKind k) {
  return k == StepKind::kSend || k == StepKind::kRecvReduceSend ||
         k == StepKind::kRecvReduceCopySend || k == StepKind::kRecvCopySend;
}
inline bool stepReduces(StepKind k) {
  return k == StepKind::kRecvReduce || k == StepKind::kRecvReduceSend ||
         k == StepKind::kRecvReduceCopySend || k == StepKind::kReduce;
}

// Which slices a step kind uses (the others are ignored).
inline bool stepUsesSrc(StepKind k) {
  return k != StepKind::kRecv && k != StepKind::kRecvCopySend;
}
inline bool stepUsesSrc2(StepKind k) {
  return k == StepKind::kReduce;
}
inline bool stepUsesDst(StepKind k) {
  return k != StepKind::kSend && k != StepKind::kRecvReduceSend;
}
// "output[4,8)": buffer and half-open element range.
std::string describeSlice(const Slice& s);

struct Step {
  StepKind kind = StepKind::kSend;
  int32_t recvPeer = -1;
  int32_t sendPeer = -1;
  Slice src;   // kSend: data; reducing kinds: local operand; kCopy/kReduce: first input
  Slice src2;  // kReduce: second input
  Slice dst;   // storing kinds: destination
  bool finalize = false;

  uint64_t count() const;  // the count of the step's slices (= message size in elements)
  std::string describe() const;
};

struct Channel {
  int connection = 0;  // connection set this channel's messages travel on
  std::vector<Step> steps;
};

// Connection sets: collective plans use 0..kMaxChannels-1; point-to-point batches use
// kP2PConnection so that they never interleave with a collective's messages.
constexpr int kMaxChannels = 32;
constexpr int kP2PConnection = kMaxChannels;

struct Plan {
  std::string algorithm;  // e.g. "ring"
  Collective collective = Collective::kAllReduce;
  int nranks = 1;
  int rank = 0;
  int root = -1;
  uint64_t count = 0;  // the API's count argument
  uint64_t inputCount = 0;
  uint64_t outputCount = 0;
  uint64_t scratchCount = 0;
  uint64_t fifoElems = 0;  // capacity of one connection FIFO in elements (builder input)
  std::vector<Channel> channels;

  size_t stepCount() const;
  std::string describe() const;  // multi-line dump for debugging and error messages
};

}  // namespace plexus::algo
