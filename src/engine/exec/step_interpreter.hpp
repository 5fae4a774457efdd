// The step interpreter: runs one channel of a flat plan (exec_plan.hpp) piece by piece over FIFOs
// in mapped memory. Written once for the host (a thread per channel, host_platform.hpp) and the
// GPU (a thread block per channel, engine/cuda/device_platform.cuh); only the Platform differs.
//
// A Platform provides, every call made by all threads of the channel with the same arguments:
//   uint32_t wait(int32_t fifo, const uint64_t* counter, uint64_t target)
//       until *counter >= target (acquire); kExecOk, or kExecTimeout / kExecAborted /
//       kExecPeerGone (the FIFO's peer is known to be dead)
//   uint64_t mine(const uint64_t* own)          a counter only this channel writes
//   SlotHeader header(const unsigned char* slot) the header of a received slot
//   void dataDone()                              this piece's data writes are complete
//   void publish(unsigned char* slot, uint32_t bytes, uint32_t tag, uint64_t* posted,
//                uint64_t* own, uint64_t value)  header, then posted = own = value (release)
//   void release(uint64_t* consumed, uint64_t* own, uint64_t value)
//   void blockSync()                             the channel's threads meet
//   void reduce(uint8_t type, uint8_t op, void* dst, const void* a, const void* b, uint64_t n,
//               int divisor)                     then divided by divisor when > 0 (AVG finalize)
//   void divide(uint8_t type, void* dst, const void* src, uint64_t n, int divisor)
//   void copy(void* dst, const void* src, uint64_t bytes)
// Semantics of the steps: src/plan/plan.hpp. A zero-element message (a barrier token) still
// travels as one empty piece. No containers, exceptions or virtual calls here.
#pragma once

#include "engine/exec/exec_plan.hpp"

namespace plexus::engine::exec {

// Where one piece reads and writes.
struct ExecPiece {
  const unsigned char* rdata = nullptr;  // received slot's data
  unsigned char* sdata = nullptr;        // data of the slot being filled
  uint64_t e0 = 0;                       // first element of the piece within the step
  uint64_t n = 0;                        // elements
  uint64_t rseq = 0;                     // message numbers of the receive and send FIFOs
  uint64_t sseq = 0;
};

PLEXUS_HD inline unsigned char* execSlicePtr(const ExecBuffers& b, const ExecSlice& s, uint64_t e0,
                                             uint32_t esz) {
  unsigned char* base = s.buffer == kExecInput
                            ? static_cast<unsigned char*>(const_cast<void*>(b.input))
                        : s.buffer == kExecOutput ? static_cast<unsigned char*>(b.output)
                                                  : static_cast<unsigned char*>(b.scratch);
  return base + (s.offset + e0) * esz;
}

// Reduces a and b into dst and applies the step's finalize.
template <class P>
PLEXUS_HD void execReduceInto(P& p, const ExecHeader& h, bool finalize, void* dst, const void* a,
                              const void* b, uint64_t n) {
  p.reduce(h.type, h.op, dst, a, b, n, finalize && h.op == kOpAvg ? h.nranks : 0);
}

// Moves the data of one piece (plan.hpp's table).
template <class P>
PLEXUS_HD void execApplyPiece(P& p, const ExecHeader& h, const ExecStep& s, const ExecBuffers& b,
                              const ExecPiece& io) {
  const uint64_t bytes = io.n * h.elemSize;
  auto at = [&](const ExecSlice& sl) { return execSlicePtr(b, sl, io.e0, h.elemSize); };
  const bool fin = s.finalize != 0;
  switch (s.kind) {
    case kExecSend:
      p.copy(io.sdata, at(s.src), bytes);
      break;
    case kExecRecv:
      p.copy(at(s.dst), io.rdata, bytes);
      break;
    case kExecRecvReduce:
      execReduceInto(p, h, fin, at(s.dst), at(s.src), io.rdata, io.n);
      break;
    case kExecRecvReduceSend:
      execReduceInto(p, h, fin, io.sdata, at(s.src), io.rdata, io.n);
      break;
    case kExecRecvReduceCopySend:
      // Reduce into local memory, then send that: the peer's slot is only written.
      execReduceInto(p, h, fin, at(s.dst), at(s.src), io.rdata, io.n);
      p.blockSync();
      p.copy(io.sdata, at(s.dst), bytes);
      break;
    case kExecRecvCopySend:
      p.copy(io.sdata, io.rdata, bytes);
      p.copy(at(s.dst), io.rdata, bytes);
      break;
    case kExecCopy:
      if (at(s.dst) != at(s.src)) p.copy(at(s.dst), at(s.src), bytes);
      if (fin && h.op == kOpAvg) {
        p.blockSync();
        p.divide(h.type, at(s.dst), at(s.dst), io.n, h.nranks);
      }
      break;
    case kExecReduce:
      execReduceInto(p, h, fin, at(s.dst), at(s.src), at(s.src2), io.n);
      break;
    default:
      break;
  }
}

// Fills `st` for a failed wait or check and returns false.
PLEXUS_HD inline bool execFail(ExecStatus& st, uint32_t code, int32_t fifo, uint32_t what,
                               uint64_t message) {
  st.code = code;
  st.fifo = fifo;
  st.waitingFor = what;
  st.message = message;
  return false;
}

// Waits for the received slot and the slot to fill of one piece; false with `st` filled when a
// wait fails or the received header is not what this rank expects.
template <class P>
PLEXUS_HD bool execOpenPiece(P& p, const ExecHeader& h, const ExecStep& s, const ExecFifos& f,
                             uint32_t bytes, ExecPiece& io, ExecStatus& st) {
  const uint64_t stride = slotStride(h.slotBytes);
  if (s.recvFifo >= 0) {
    const ExecFifo& rf = f.fifo[s.recvFifo];
    const uint64_t seq = p.mine(rf.mine);
    const uint32_t rc = p.wait(s.recvFifo, rf.posted, seq + 1);
    if (rc != kExecOk) return execFail(st, rc, s.recvFifo, kWaitData, seq);
    const unsigned char* slot = rf.ring + (seq % h.slots) * stride;
    const SlotHeader got = p.header(slot);
    if (got.tag != h.tag || got.bytes != bytes) {
      st.expectedTag = h.tag;
      st.expectedBytes = bytes;
      st.gotTag = got.tag;
      st.gotBytes = got.bytes;
      return execFail(st, kExecMismatch, s.recvFifo, kWaitNone, seq);
    }
    io.rdata = slot + kSlotHeaderBytes;
    io.rseq = seq;
  }
  if (s.sendFifo >= 0) {
    const ExecFifo& sf = f.fifo[s.sendFifo];
    const uint64_t seq = p.mine(sf.mine);
    if (seq >= h.slots) {
      const uint32_t rc = p.wait(s.sendFifo, sf.consumed, seq + 1 - h.slots);
      if (rc != kExecOk) return execFail(st, rc, s.sendFifo, kWaitSlot, seq);
    }
    io.sdata = sf.ring + (seq % h.slots) * stride + kSlotHeaderBytes;
    io.sseq = seq;
  }
  return true;
}

// Hands the piece on: the filled slot to its receiver, the received slot back to its sender.
template <class P>
PLEXUS_HD void execClosePiece(P& p, const ExecHeader& h, const ExecStep& s, const ExecFifos& f,
                              uint32_t bytes, const ExecPiece& io) {
  p.dataDone();
  if (s.sendFifo >= 0) {
    const ExecFifo& sf = f.fifo[s.sendFifo];
    const uint64_t stride = slotStride(h.slotBytes);
    p.publish(sf.ring + (io.sseq % h.slots) * stride, bytes, h.tag, sf.posted, sf.mine,
              io.sseq + 1);
  }
  if (s.recvFifo >= 0) {
    const ExecFifo& rf = f.fifo[s.recvFifo];
    p.release(rf.consumed, rf.mine, io.rseq + 1);
  }
  p.blockSync();
}

// Runs every step of one channel. kExecOk, or the first failure with where it happened.
template <class P>
PLEXUS_HD ExecStatus runChannel(P& p, const ExecPlan& plan, int channel, const ExecBuffers& b,
                                const ExecFifos& f) {
  const ExecHeader& h = plan.header;
  const ExecChannel& ch = plan.channels[channel];
  const uint64_t pieceElems = h.slotBytes / h.elemSize;
  ExecStatus st;
  st.channel = channel;
  for (int32_t i = 0; i < ch.nsteps; ++i) {
    const ExecStep& s = plan.steps[ch.firstStep + i];
    const uint64_t count =
        s.kind == kExecSend || s.kind == kExecRecvReduceSend ? s.src.count : s.dst.count;
    const bool communicates = s.recvFifo >= 0 || s.sendFifo >= 0;
    const uint64_t pieces = count == 0 && communicates ? 1 : (count + pieceElems - 1) / pieceElems;
    st.step = i;
    for (uint64_t k = 0; k < pieces; ++k) {
      st.piece = k;
      ExecPiece io;
      io.e0 = k * pieceElems;
      io.n = count == 0 ? 0 : (count - io.e0 < pieceElems ? count - io.e0 : pieceElems);
      const uint32_t bytes = static_cast<uint32_t>(io.n * h.elemSize);
      if (!execOpenPiece(p, h, s, f, bytes, io, st)) return st;
      // A zero-element piece moves nothing; its buffers may be null.
      if (bytes != 0) execApplyPiece(p, h, s, b, io);
      execClosePiece(p, h, s, f, bytes, io);
    }
  }
  st.code = kExecOk;
  st.step = -1;
  return st;
}

}  // namespace plexus::engine::exec
