// Point-to-point plans (builders.hpp): one send or one receive step on kP2PConnection. The
// message is not bounded by a FIFO (Plan::fifoElems == 0): the engine streams it through the
// connection's slots. A zero-element transfer has no step (nothing to match).
#include <cinttypes>

#include "algorithms/builders.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace {

Plan p2pPlan(int nranks, int rank, int peer, uint64_t count, const char* what) {
  if (nranks < 1 || rank < 0 || rank >= nranks || peer < 0 || peer >= nranks) {
    throwError(ErrorCode::kInvalidArgument, "%s: rank %d / peer %d outside 0..%d", what, rank, peer,
               nranks - 1);
  }
  Plan plan;
  plan.algorithm = "p2p";
  plan.collective = Collective::kSendRecv;
  plan.nranks = nranks;
  plan.rank = rank;
  plan.count = count;
  plan.fifoElems = 0;
  plan.channels.resize(1);
  plan.channels[0].connection = kP2PConnection;
  return plan;
}

}  // namespace

Plan buildSend(int nranks, int rank, int peer, uint64_t count) {
  Plan plan = p2pPlan(nranks, rank, peer, count, "send");
  plan.inputCount = count;
  if (count > 0) {
    Step s;
    s.kind = StepKind::kSend;
    s.sendPeer = peer;
    s.src = {Buffer::kInput, 0, count};
    plan.channels[0].steps.push_back(s);
  }
  return plan;
}

Plan buildRecv(int nranks, int rank, int peer, uint64_t count) {
  Plan plan = p2pPlan(nranks, rank, peer, count, "recv");
  plan.outputCount = count;
  if (count > 0) {
    Step s;
    s.kind = StepKind::kRecv;
    s.recvPeer = peer;
    s.dst = {Buffer::kOutput, 0, count};
    plan.channels[0].steps.push_back(s);
  }
  return plan;
}

}  // namespace plexus::algo
