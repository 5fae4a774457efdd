// Flattening a plan for the step interpreter, and the messages its statuses turn into.
#include "engine/exec/exec_plan.hpp"

#include <algorithm>
#include <tuple>

#include "base/error.hpp"
#include "kernels/datatype.hpp"

namespace plexus::engine::exec {
namespace {

using algo::StepKind;

static_assert(kExecSend == static_cast<uint8_t>(StepKind::kSend));
static_assert(kExecRecv == static_cast<uint8_t>(StepKind::kRecv));
static_assert(kExecRecvReduce == static_cast<uint8_t>(StepKind::kRecvReduce));
static_assert(kExecRecvReduceSend == static_cast<uint8_t>(StepKind::kRecvReduceSend));
static_assert(kExecRecvReduceCopySend == static_cast<uint8_t>(StepKind::kRecvReduceCopySend));
static_assert(kExecRecvCopySend == static_cast<uint8_t>(StepKind::kRecvCopySend));
static_assert(kExecCopy == static_cast<uint8_t>(StepKind::kCopy));
static_assert(kExecReduce == static_cast<uint8_t>(StepKind::kReduce));
static_assert(kExecInput == static_cast<uint8_t>(algo::Buffer::kInput));
static_assert(kExecOutput == static_cast<uint8_t>(algo::Buffer::kOutput));
static_assert(kExecScratch == static_cast<uint8_t>(algo::Buffer::kScratch));
static_assert(kOpAvg == static_cast<uint8_t>(RedOp::kAvg));

ExecSlice flatSlice(const algo::Slice& s) {
  ExecSlice out;
  out.buffer = static_cast<uint8_t>(s.buffer);
  out.offset = s.offset;
  out.count = s.count;
  return out;
}

uint32_t signatureOf(const algo::Plan& p, DataType type, RedOp op) {
  // FNV-1a over the arguments every rank passes alike.
  uint32_t h = 2166136261u;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<uint32_t>((v >> (8 * i)) & 0xffu);
      h *= 16777619u;
    }
  };
  mix(static_cast<uint64_t>(p.collective));
  mix(p.count);
  mix(static_cast<uint64_t>(type));
  mix(static_cast<uint64_t>(op));
  mix(static_cast<uint64_t>(static_cast<int64_t>(p.root)));
  return h;
}

class Flattener {
 public:
  Flattener(const algo::Plan& plan, const FlattenOptions& o, uint32_t esz)
      : plan_(plan), pieceElems_(o.slotBytes / esz), slots_(o.slots) {}

  int32_t fifoOf(std::vector<FifoKey>& fifos, int connection, int peer, bool send, size_t c,
                 size_t i) const {
    if (peer < 0 || peer >= plan_.nranks || peer == plan_.rank) {
      throwError(ErrorCode::kInvalidArgument,
                 "rank %d: %s (%s) channel %zu step %zu %s peer %d, which is outside 0..%d or "
                 "this rank itself; the step interpreter cannot run this plan",
                 plan_.rank, algo::collectiveName(plan_.collective), plan_.algorithm.c_str(), c, i,
                 send ? "sends to" : "receives from", peer, plan_.nranks - 1);
    }
    const FifoKey key{connection, peer, send};
    auto it = std::find(fifos.begin(), fifos.end(), key);
    if (it != fifos.end()) return static_cast<int32_t>(it - fifos.begin());
    fifos.push_back(key);
    return static_cast<int32_t>(fifos.size() - 1);
  }

  void checkFits(const algo::Step& s, size_t c, size_t i) const {
    const bool communicates = algo::stepSends(s.kind) || algo::stepReceives(s.kind);
    const uint64_t pieces = (s.count() + pieceElems_ - 1) / pieceElems_;
    if (communicates && pieces > slots_) {
      throwError(ErrorCode::kInvalidArgument,
                 "rank %d: %s (%s) channel %zu step %zu moves %llu elements in one message, more "
                 "than a FIFO of %u slots of %llu elements holds; build the plan with fifoElems "
                 "<= slots * slotBytes / element size",
                 plan_.rank, algo::collectiveName(plan_.collective), plan_.algorithm.c_str(), c, i,
                 static_cast<unsigned long long>(s.count()), slots_,
                 static_cast<unsigned long long>(pieceElems_));
    }
  }

 private:
  const algo::Plan& plan_;
  uint64_t pieceElems_;
  uint32_t slots_;
};

}  // namespace

bool FifoKey::operator<(const FifoKey& o) const {
  return std::tie(connection, peer, send) < std::tie(o.connection, o.peer, o.send);
}

FlatPlan flatten(const algo::Plan& plan, DataType type, RedOp op, const FlattenOptions& options) {
  const uint32_t esz = static_cast<uint32_t>(dataTypeSize(type));
  if (options.slots == 0 || options.slotBytes < esz) {
    throwError(ErrorCode::kInvalidArgument,
               "step interpreter: a FIFO of %u slots of %u bytes cannot carry %s elements",
               options.slots, options.slotBytes, dataTypeName(type));
  }
  FlatPlan out;
  out.algorithm = plan.algorithm;
  ExecHeader& h = out.header;
  h.nranks = plan.nranks;
  h.rank = plan.rank;
  h.type = static_cast<uint8_t>(type);
  h.op = static_cast<uint8_t>(op);
  h.collective = static_cast<uint8_t>(plan.collective);
  h.elemSize = esz;
  h.count = plan.count;
  h.slotBytes = options.slotBytes;
  h.slots = options.slots;
  h.signature = signatureOf(plan, type, op);
  const Flattener f(plan, options, esz);
  for (size_t c = 0; c < plan.channels.size(); ++c) {
    const algo::Channel& ch = plan.channels[c];
    ExecChannel ec;
    ec.firstStep = static_cast<int32_t>(out.steps.size());
    ec.nsteps = static_cast<int32_t>(ch.steps.size());
    ec.connection = ch.connection;
    for (size_t i = 0; i < ch.steps.size(); ++i) {
      const algo::Step& s = ch.steps[i];
      f.checkFits(s, c, i);
      ExecStep es;
      es.kind = static_cast<uint8_t>(s.kind);
      es.finalize = s.finalize ? 1 : 0;
      es.src = flatSlice(s.src);
      es.src2 = flatSlice(s.src2);
      es.dst = flatSlice(s.dst);
      if (algo::stepReceives(s.kind))
        es.recvFifo = f.fifoOf(out.fifos, ch.connection, s.recvPeer, false, c, i);
      if (algo::stepSends(s.kind))
        es.sendFifo = f.fifoOf(out.fifos, ch.connection, s.sendPeer, true, c, i);
      out.steps.push_back(es);
    }
    out.channels.push_back(ec);
  }
  h.nchannels = static_cast<int32_t>(out.channels.size());
  h.nsteps = static_cast<int32_t>(out.steps.size());
  h.nfifos = static_cast<int32_t>(out.fifos.size());
  return out;
}

std::string describeStatus(const FlatPlan& plan, const ExecStatus& st) {
  const ExecHeader& h = plan.header;
  std::string where = formatString(
      "rank %d: %s (%s, %llu x %s, %s) channel %d", h.rank,
      algo::collectiveName(static_cast<algo::Collective>(h.collective)), plan.algorithm.c_str(),
      static_cast<unsigned long long>(h.count), dataTypeName(static_cast<DataType>(h.type)),
      redOpName(static_cast<RedOp>(h.op)), st.channel);
  if (st.channel >= 0 && st.step >= 0 && st.channel < h.nchannels) {
    const ExecStep& s = plan.steps[static_cast<size_t>(
        plan.channels[static_cast<size_t>(st.channel)].firstStep + st.step)];
    where += formatString(" step %d (%s) piece %llu", st.step,
                          algo::stepKindName(static_cast<algo::StepKind>(s.kind)),
                          static_cast<unsigned long long>(st.piece));
  }
  FifoKey key;
  if (st.fifo >= 0 && st.fifo < h.nfifos) key = plan.fifos[static_cast<size_t>(st.fifo)];
  const std::string fifo = formatString("%s rank %d on connection %d (message #%llu of that FIFO)",
                                        key.send ? "to" : "from", key.peer, key.connection,
                                        static_cast<unsigned long long>(st.message));
  switch (st.code) {
    case kExecOk:
      return where + ": ok";
    case kExecPeerGone:
      return where + ": rank " + std::to_string(key.peer) + " died (its process is gone) while " +
             "this rank waited for " + (st.waitingFor == kWaitSlot ? "a free slot " : "data ") +
             fifo;
    case kExecTimeout:
    case kExecAborted:
      return where + (st.code == kExecTimeout ? ": timed out" : ": aborted") + " waiting for " +
             (st.waitingFor == kWaitSlot ? "a free slot in the FIFO " : "data ") + fifo +
             "; check that rank " + std::to_string(key.peer) +
             " is alive and makes the same calls in the same order";
    case kExecMismatch:
      return where + formatString(
                         ": message mismatch %s: expected operation #%u piece of %u bytes "
                         "(argument hash %04x), got operation #%u piece of %u bytes (argument "
                         "hash %04x). Every rank must call the same operations in the same "
                         "order with the same count, type, op and root",
                         fifo.c_str(), st.expectedTag >> 16, st.expectedBytes,
                         st.expectedTag & 0xffffu, st.gotTag >> 16, st.gotBytes,
                         st.gotTag & 0xffffu);
  }
  return where + ": unknown status";
}

}  // namespace plexus::engine::exec
