// Executes plan steps piece by piece: a step's message is cut into slot-sized pieces, and each
// piece is received, reduced and/or sent straight between the user's buffers and transport slots.
#include <algorithm>
#include <cstring>

#include "base/log.hpp"
#include "engine/engine.hpp"
#include "kernels/reduce.hpp"
#include "kernels/stream_copy.hpp"

namespace plexus::engine {
namespace {

using algo::StepKind;

uint32_t makeTag(uint32_t seq, uint32_t signature) {
  return (seq << 16) | (signature & 0xffffu);
}

std::byte* slicePtr(Work& w, const algo::Slice& s, uint64_t elemOffset, size_t esz) {
  std::byte* base = nullptr;
  switch (s.buffer) {
    case algo::Buffer::kInput:
      base = static_cast<std::byte*>(const_cast<void*>(w.desc().input));
      break;
    case algo::Buffer::kOutput:
      base = static_cast<std::byte*>(w.desc().output);
      break;
    case algo::Buffer::kScratch:
      base = w.scratch;
      break;
  }
  return base + (s.offset + elemOffset) * esz;
}

}  // namespace

bool Engine::runLane(Active& a, Lane& lane) {
  Work& w = *a.work;
  const WorkDesc& d = w.desc();
  const size_t esz = dataTypeSize(d.type);
  const uint64_t pieceElems = config_.slotBytes / esz;
  const uint32_t tag = makeTag(w.seq, d.signature);
  const bool avg = d.op == RedOp::kAvg;
  // Results of large operations bypass the cache; slots and inputs stay where they are.
  const bool streaming = config_.streamingBytes != 0 && d.count * esz >= config_.streamingBytes;
  auto copyOut = [streaming](std::byte* dst, const std::byte* src, size_t bytes) {
    if (streaming)
      streamCopy(dst, src, bytes);
    else
      std::memcpy(dst, src, bytes);
  };
  bool moved = false;

  while (lane.step < lane.channel->steps.size()) {
    const algo::Step& s = lane.channel->steps[lane.step];
    const uint64_t count = s.count();
    // A message of zero elements still travels (one empty piece): a barrier's tokens are such.
    const bool communicates = algo::stepSends(s.kind) || algo::stepReceives(s.kind);
    const uint64_t pieces = count == 0 && communicates ? 1 : (count + pieceElems - 1) / pieceElems;
    if (lane.piece >= pieces) {
      ++lane.step;
      lane.piece = 0;
      continue;
    }
    const uint64_t e0 = lane.piece * pieceElems;
    const uint64_t n = count == 0 ? 0 : std::min(pieceElems, count - e0);
    const size_t bytes = n * esz;
    const bool receives = algo::stepReceives(s.kind);
    const bool sends = algo::stepSends(s.kind);

    transport::Connection* rc = nullptr;
    transport::Connection* sc = nullptr;
    const std::byte* rslot = nullptr;
    std::byte* sslot = nullptr;
    if (receives) {
      rc = provider_.connect(lane.channel->connection, s.recvPeer);
      if (rc == nullptr) {
        lane.waitingOn = nullptr;
        lane.waitingPeer = s.recvPeer;
        lane.waitingFor = "a connection from";
        return moved;
      }
      uint32_t gotBytes = 0, gotTag = 0;
      rslot = rc->receiver().peek(&gotBytes, &gotTag);
      if (rslot == nullptr) {
        lane.waitingOn = rc;
        lane.waitingPeer = s.recvPeer;
        lane.waitingFor = "data from";
        return moved;
      }
      if (gotTag != tag || gotBytes != bytes)
        throwError(ErrorCode::kInvalidUsage,
                   "%s: message mismatch from %s: expected operation #%u (%s) piece of %zu bytes, "
                   "got operation #%u piece of %u bytes (argument hash %04x vs %04x). Every rank "
                   "must call the same operations in the same order with the same count, type, "
                   "op and root",
                   d.label().c_str(), rc->describe().c_str(), w.seq & 0xffffu, d.label().c_str(),
                   bytes, gotTag >> 16, gotBytes, d.signature & 0xffffu, gotTag & 0xffffu);
    }
    if (sends) {
      sc = provider_.connect(lane.channel->connection, s.sendPeer);
      if (sc == nullptr) {
        lane.waitingOn = nullptr;
        lane.waitingPeer = s.sendPeer;
        lane.waitingFor = "a connection to";
        return moved;
      }
      sslot = sc->sender().acquire();
      if (sslot == nullptr) {
        lane.waitingOn = sc;
        lane.waitingPeer = s.sendPeer;
        lane.waitingFor = "a free slot towards";
        return moved;
      }
    }

    // A zero-element piece (a barrier token, an empty call) moves nothing; its buffers may be null.
    if (bytes != 0) {
      switch (s.kind) {
        case StepKind::kSend:
          std::memcpy(sslot, slicePtr(w, s.src, e0, esz), bytes);
          break;
        case StepKind::kRecv:
          copyOut(slicePtr(w, s.dst, e0, esz), rslot, bytes);
          break;
        case StepKind::kRecvReduce: {
          std::byte* dst = slicePtr(w, s.dst, e0, esz);
          reduceBuffers(d.type, d.op, dst, slicePtr(w, s.src, e0, esz), rslot, n);
          if (s.finalize && avg) finalizeAverage(d.type, dst, dst, n, config_.nranks);
          break;
        }
        case StepKind::kRecvReduceSend:
          reduceBuffers(d.type, d.op, sslot, slicePtr(w, s.src, e0, esz), rslot, n);
          if (s.finalize && avg) finalizeAverage(d.type, sslot, sslot, n, config_.nranks);
          break;
        case StepKind::kRecvReduceCopySend: {
          std::byte* dst = slicePtr(w, s.dst, e0, esz);
          reduceBuffers(d.type, d.op, sslot, slicePtr(w, s.src, e0, esz), rslot, n);
          if (s.finalize && avg) finalizeAverage(d.type, sslot, sslot, n, config_.nranks);
          copyOut(dst, sslot, bytes);
          break;
        }
        case StepKind::kRecvCopySend:
          std::memcpy(sslot, rslot, bytes);
          copyOut(slicePtr(w, s.dst, e0, esz), rslot, bytes);
          break;
        case StepKind::kCopy: {
          std::byte* dst = slicePtr(w, s.dst, e0, esz);
          const std::byte* src = slicePtr(w, s.src, e0, esz);
          if (dst != src) std::memmove(dst, src, bytes);
          if (s.finalize && avg) finalizeAverage(d.type, dst, dst, n, config_.nranks);
          break;
        }
        case StepKind::kReduce: {
          std::byte* dst = slicePtr(w, s.dst, e0, esz);
          reduceBuffers(d.type, d.op, dst, slicePtr(w, s.src, e0, esz),
                        slicePtr(w, s.src2, e0, esz), n);
          if (s.finalize && avg) finalizeAverage(d.type, dst, dst, n, config_.nranks);
          break;
        }
      }
    }
    if (receives) rc->receiver().release();
    if (sends) {
      sc->sender().post(static_cast<uint32_t>(bytes), tag);
      if (std::find(a.sentOn.begin(), a.sentOn.end(), sc) == a.sentOn.end()) a.sentOn.push_back(sc);
    }
    lane.waitingOn = nullptr;
    lane.waitingFor = nullptr;
    ++lane.piece;
    moved = true;
  }
  return moved;
}

}  // namespace plexus::engine
