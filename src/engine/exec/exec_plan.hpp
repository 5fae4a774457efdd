// The flat form of one rank's plan that the step interpreter (step_interpreter.hpp) runs: plain
// structs without pointers of their own, so one memcpy puts a plan on a GPU. This header compiles
// as host C++ and as CUDA device code; flatten() and the helpers after the PODs are host only.
//
// A FIFO is one direction of one (connection, peer) pair as this rank sees it: the receiver owns
// its memory (a ring of `slots` slots of `slotBytes` bytes plus a header each, and the `posted`
// counter the sender advances); the sender's memory holds the `consumed` counter the receiver
// advances. Counters only grow and persist across operations: message k of a FIFO lives in slot
// k % slots.
#pragma once

#include <cstdint>

#include "kernels/host_device.hpp"  // PLEXUS_HD

namespace plexus::engine::exec {

// Values of algo::StepKind and algo::Buffer (checked in exec_plan.cpp).
enum ExecStepKind : uint8_t {
  kExecSend,
  kExecRecv,
  kExecRecvReduce,
  kExecRecvReduceSend,
  kExecRecvReduceCopySend,
  kExecRecvCopySend,
  kExecCopy,
  kExecReduce,
};
enum ExecBuffer : uint8_t { kExecInput, kExecOutput, kExecScratch };

struct ExecSlice {
  uint64_t offset = 0;  // elements
  uint64_t count = 0;
  uint8_t buffer = kExecInput;
};

struct ExecStep {
  ExecSlice src, src2, dst;
  int32_t recvFifo = -1;  // index into the plan's FIFOs, or -1
  int32_t sendFifo = -1;
  uint8_t kind = kExecSend;
  uint8_t finalize = 0;
};

struct ExecChannel {
  int32_t firstStep = 0;
  int32_t nsteps = 0;
  int32_t connection = 0;
};

struct ExecHeader {
  int32_t nranks = 1;
  int32_t rank = 0;
  uint8_t type = 0;  // plexus::DataType
  uint8_t op = 0;    // plexus::RedOp
  uint8_t collective = 0;
  uint32_t elemSize = 1;
  uint64_t count = 0;  // the API's count
  int32_t nchannels = 0;
  int32_t nsteps = 0;
  int32_t nfifos = 0;
  uint32_t slotBytes = 0;  // data bytes per slot: a piece is slotBytes / elemSize elements
  uint32_t slots = 0;      // slots per FIFO
  uint32_t signature = 0;  // hash of collective, count, type, op, root (peers must agree)
  uint32_t tag = 0;        // set per call: (call sequence << 16) | (signature & 0xffff)
};

constexpr uint8_t kOpAvg = 4;  // plexus::RedOp::kAvg

// A plan as the interpreter sees it: the header by value, channels and steps where they live
// (host memory for the host executor, device memory for the device executor).
struct ExecPlan {
  ExecHeader header;
  const ExecChannel* channels = nullptr;
  const ExecStep* steps = nullptr;
};

struct ExecBuffers {
  const void* input = nullptr;
  void* output = nullptr;
  void* scratch = nullptr;
};

// What precedes the data in every slot.
struct alignas(16) SlotHeader {
  uint32_t bytes;
  uint32_t tag;
  uint64_t pad;
};
constexpr uint32_t kSlotHeaderBytes = 64;  // data starts one cache line (and 16 B) in
PLEXUS_HD inline uint64_t slotStride(uint32_t slotBytes) {
  return kSlotHeaderBytes + ((static_cast<uint64_t>(slotBytes) + 63u) & ~uint64_t{63});
}

// One FIFO resolved to memory this rank can reach.
struct ExecFifo {
  unsigned char* ring = nullptr;  // slot 0 (receiver's memory)
  uint64_t* posted = nullptr;     // receiver's memory, written by the sender
  uint64_t* consumed = nullptr;   // sender's memory, written by the receiver
  uint64_t* mine = nullptr;       // own memory: messages posted (send) or consumed (receive)
  int32_t peer = -1;
  int32_t connection = 0;
  uint8_t send = 0;
};

struct ExecFifos {
  ExecFifo* fifo = nullptr;  // the plan's FIFOs in the plan's order
  int32_t count = 0;
};

// The outcome of one channel.
enum ExecCode : uint32_t { kExecOk, kExecTimeout, kExecAborted, kExecMismatch, kExecPeerGone };
enum ExecWait : uint32_t { kWaitNone, kWaitData, kWaitSlot };

struct ExecStatus {
  uint32_t code = kExecOk;
  int32_t channel = -1;
  int32_t step = -1;  // index within the channel
  uint64_t piece = 0;
  uint64_t message = 0;  // the FIFO's message number waited for or checked
  int32_t fifo = -1;
  uint32_t waitingFor = kWaitNone;
  uint32_t expectedTag = 0, gotTag = 0;
  uint32_t expectedBytes = 0, gotBytes = 0;
};

}  // namespace plexus::engine::exec

// Host side (also usable from the host code of .cu files).
#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "plexus/types.hpp"

namespace plexus::engine::exec {

// A FIFO as the plan names it.
struct FifoKey {
  int32_t connection = 0;
  int32_t peer = -1;
  bool send = false;
  bool operator==(const FifoKey&) const = default;
  bool operator<(const FifoKey& o) const;
};

struct FlatPlan {
  ExecHeader header;
  std::vector<ExecChannel> channels;
  std::vector<ExecStep> steps;
  std::vector<FifoKey> fifos;  // index = ExecStep::recvFifo / sendFifo
  std::string algorithm;       // for messages

  ExecPlan view() const { return ExecPlan{header, channels.data(), steps.data()}; }
};

struct FlattenOptions {
  uint32_t slotBytes = 128 * 1024;
  uint32_t slots = 4;
};

// Flattens `plan` for a call with this type and op. Throws Error(kInvalidArgument) naming the
// step when a message does not fit the FIFO (fifoElems larger than slots * slotBytes) or a peer
// lies outside the communicator.
FlatPlan flatten(const algo::Plan& plan, DataType type, RedOp op, const FlattenOptions& options);

// The tag the call with sequence number `seq` carries.
inline uint32_t makeExecTag(uint32_t seq, uint32_t signature) {
  return (seq << 16) | (signature & 0xffffu);
}

// "rank 2: allreduce (ring) channel 1 step 3 (recvReduceSend) piece 0: timed out waiting for data
// from rank 1 on connection 1 (message 17)": what a failed status means.
std::string describeStatus(const FlatPlan& plan, const ExecStatus& status);

}  // namespace plexus::engine::exec
