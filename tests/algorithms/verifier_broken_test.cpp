// The verifier rejects broken plans with messages that name the rank, channel, step and element
// range: each test breaks a correct ring plan set in one way and checks the report's content.
#include <gtest/gtest.h>

#include "algorithms/builders.hpp"
#include "algorithms/verifier.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace {

std::vector<Plan> ringPlans(Collective coll, int n, uint64_t count, uint64_t fifo, int nch = 1) {
  BuildRequest q;
  q.collective = coll;
  q.nranks = n;
  q.count = count;
  q.fifoElems = fifo;
  q.nchannels = nch;
  q.root = 1 % n;
  std::vector<Plan> plans;
  for (int r = 0; r < n; ++r) {
    q.rank = r;
    plans.push_back(buildRing(q));
  }
  return plans;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The report must fail and contain every part.
void expectRejected(const VerifyReport& report, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(report.ok) << "accepted a broken plan set";
  const std::string text = report.text();
  for (const std::string& part : parts) {
    EXPECT_TRUE(has(text, part)) << "missing \"" << part << "\" in:\n" << text;
  }
}

TEST(VerifierBroken, CorrectPlansPass) {
  for (Collective c : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                       Collective::kBroadcast, Collective::kReduce}) {
    const VerifyReport report = verifyPlanSet(ringPlans(c, 5, 23, 6, 2));
    EXPECT_TRUE(report.ok) << collectiveName(c) << ":\n" << report.text();
    EXPECT_TRUE(has(report.text(), "ok: 5 ranks"));
  }
}

TEST(VerifierBroken, DroppedStep) {
  // 4-rank all-reduce, 8 elements, one iteration: rank 2 drops its recvReduceSend (step 1). Its
  // successor then waits for a message that rank 2 never sends.
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 4, 8, 64);
  auto& steps = plans[2].channels[0].steps;
  ASSERT_EQ(steps[1].kind, StepKind::kRecvReduceSend);
  steps.erase(steps.begin() + 1);
  const VerifyReport report = verifyPlanSet(plans);
  // The first reported problem is a size mismatch or a deadlock; either way the report names
  // ranks, channel 0, a step index and an element range.
  expectRejected(report, {"rank ", "channel 0 step ", "input[", ")"});
}

TEST(VerifierBroken, DroppedLastRecvLeavesWrongOutput) {
  // Dropping a rank's final recv leaves its output chunk unwritten and a message unreceived.
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 4, 8, 64);
  auto& steps = plans[1].channels[0].steps;
  ASSERT_EQ(steps.back().kind, StepKind::kRecv);
  steps.pop_back();
  const VerifyReport report = verifyPlanSet(plans);
  expectRejected(report, {"out-of-place: rank 0 channel 0 step 5 recvCopySend(from 3, to 1",
                          "that rank 1 never receives", "0 receives from rank 0 left",
                          "rank 1 output[4,6) is wrong", "was never written"});
}

TEST(VerifierBroken, DoubleCountedChunk) {
  // 3-rank all-reduce: rank 1 reduces its chunk twice into scratch and sends that instead.
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 3, 6, 64);
  Plan& p = plans[1];
  auto& steps = p.channels[0].steps;
  ASSERT_EQ(steps[1].kind, StepKind::kRecvReduceSend);
  const Slice chunk = steps[1].src;  // input[4,6)
  p.scratchCount = chunk.count;
  Step twice;
  twice.kind = StepKind::kReduce;
  twice.src = chunk;
  twice.src2 = chunk;
  twice.dst = {Buffer::kScratch, 0, chunk.count};
  steps[1].src = twice.dst;
  steps.insert(steps.begin(), twice);
  const VerifyReport report = verifyPlanSet(plans);
  expectRejected(report, {"rank 0 output[4,6) is wrong", "holds 4 contributions, expected 3",
                          "rank 1's input[4] is counted twice",
                          "last written by rank 0 channel 0 step 3 recvCopySend(from 2, to 1, dst "
                          "output[4,6))"});
}

TEST(VerifierBroken, WrongPeer) {
  // Rank 2 of a 5-rank all-gather sends its block to rank 0 instead of rank 3.
  std::vector<Plan> plans = ringPlans(Collective::kAllGather, 5, 3, 64);
  auto& steps = plans[2].channels[0].steps;
  ASSERT_EQ(steps[1].kind, StepKind::kSend);
  steps[1].sendPeer = 0;
  const VerifyReport report = verifyPlanSet(plans);
  expectRejected(report,
                 {"deadlock: 1 of 5 channels cannot finish",
                  "rank 3 channel 0 step 5 recv(from 2, dst output[12,15)): waits for a message "
                  "from rank 2 on connection 0 that never arrives (rank 2 channel 0 has "
                  "finished; it has 0 sends to rank 3 left)",
                  "rank 2 channel 0 step 1 send(to 0, src input[0,3)) sent a message of 3 "
                  "elements that rank 0 never receives"});
}

TEST(VerifierBroken, WrongSize) {
  // Rank 1 of a 4-rank reduce-scatter receives one element less than rank 0 sends.
  std::vector<Plan> plans = ringPlans(Collective::kReduceScatter, 4, 5, 64);
  auto& steps = plans[1].channels[0].steps;
  ASSERT_EQ(steps[1].kind, StepKind::kRecvReduceSend);
  steps[1].src.count -= 1;
  const VerifyReport report = verifyPlanSet(plans);
  expectRejected(report, {"rank 1 channel 0 step 1 recvReduceSend(from 0, to 2, src input[15,19))",
                          "expects a message of 4 elements but the next message from rank 0 on "
                          "connection 0 has 5 elements",
                          "sent by rank 0 channel 0 step 0 send(to 1, src input[15,20))"});
}

TEST(VerifierBroken, OutOfBoundsSlice) {
  std::vector<Plan> plans = ringPlans(Collective::kBroadcast, 3, 10, 4);
  auto& steps = plans[2].channels[0].steps;
  ASSERT_EQ(steps[2].dst.offset, 7u);  // the third piece, output[7,10)
  steps[2].dst.offset = 9;             // output[9,12) is outside the 10-element output
  const VerifyReport report = verifyPlanSet(plans);
  expectRejected(report, {"rank 2 channel 0 step 2 recvCopySend(from 1, to 0, dst output[9,12)): "
                          "dst output[9,12) is outside the output buffer of 10 elements"});
}

TEST(VerifierBroken, DeadlockingOrder) {
  // Three ranks that each receive from their predecessor before sending to their successor.
  std::vector<Plan> plans;
  for (int r = 0; r < 3; ++r) {
    Plan p;
    p.algorithm = "bad-ring";
    p.collective = Collective::kAllGather;
    p.nranks = 3;
    p.rank = r;
    p.count = 4;
    p.inputCount = 4;
    p.outputCount = 12;
    p.fifoElems = 16;
    p.channels.resize(1);
    Step copy;
    copy.kind = StepKind::kCopy;
    copy.src = {Buffer::kInput, 0, 4};
    copy.dst = {Buffer::kOutput, static_cast<uint64_t>(r) * 4, 4};
    Step recv;
    recv.kind = StepKind::kRecvCopySend;
    recv.recvPeer = (r + 2) % 3;
    recv.sendPeer = (r + 1) % 3;
    recv.dst = {Buffer::kOutput, static_cast<uint64_t>((r + 2) % 3) * 4, 4};
    Step send;
    send.kind = StepKind::kSend;
    send.sendPeer = (r + 1) % 3;
    send.src = {Buffer::kInput, 0, 4};
    p.channels[0].steps = {copy, recv, send};
    plans.push_back(p);
  }
  const VerifyReport report = verifyPlanSet(plans);
  expectRejected(report,
                 {"deadlock: 3 of 3 channels cannot finish (0 messages in flight)",
                  "rank 0 channel 0 step 1 recvCopySend(from 2, to 1, dst output[8,12)): waits "
                  "for a message from rank 2 on connection 0 that never arrives (rank 2 is "
                  "blocked at channel 0 step 1; it has 2 sends to rank 0 left)"});
}

TEST(VerifierBroken, FullSizeMessagesDeadlockARing) {
  // Ring plans built for a 16-element FIFO (messages of 8), declared with an 8-element FIFO:
  // after the first sends every FIFO is full and every fused step waits for room.
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 4, 64, 16);
  for (Plan& p : plans) p.fifoElems = 8;
  const VerifyReport report = verifyPlanSet(plans);
  expectRejected(report, {"deadlock: 4 of 4 channels cannot finish (4 messages in flight)",
                          "rank 0 channel 0 step 1 recvReduceSend(from 3, to 1, src input[16,24))",
                          "waits for room for 8 elements in the FIFO to rank 1 on connection 0, "
                          "which holds 8 of 8 elements in 1 unreceived messages"});
}

TEST(VerifierBroken, MessageLargerThanFifo) {
  std::vector<Plan> plans = ringPlans(Collective::kReduce, 3, 10, 10);
  for (Plan& p : plans) p.fifoElems = 5;
  expectRejected(verifyPlanSet(plans),
                 {"rank 2 channel 0 step 0 send(to 0, src input[0,10)): sends a message of 10 "
                  "elements, more than a connection FIFO holds (5)"});
}

TEST(VerifierBroken, MissingFinalize) {
  std::vector<Plan> plans = ringPlans(Collective::kReduce, 3, 10, 10);
  plans[1].channels[0].steps[0].finalize = false;  // the root's recvReduce
  expectRejected(verifyPlanSet(plans),
                 {"rank 1 output[0,10) is wrong", "was not finalized",
                  "last written by rank 1 channel 0 step 0 recvReduce(from 0, src input[0,10), "
                  "dst output[0,10))"});
}

TEST(VerifierBroken, ReducingAFinalizedValue) {
  // All-reduce: rank 1's first all-gather step reduces the finalized chunk again.
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 3, 6, 64);
  Step& s = plans[1].channels[0].steps[3];
  ASSERT_EQ(s.kind, StepKind::kRecvCopySend);
  s.kind = StepKind::kRecvReduceCopySend;
  s.src = {Buffer::kInput, s.dst.offset, s.dst.count};
  expectRejected(verifyPlanSet(plans),
                 {"rank 1 channel 0 step 3 recvReduceCopySend(from 0, to 2, src input[0,2), dst "
                  "output[0,2)): reduces a finalized value received from rank 0",
                  "at output[0,2)"});
}

TEST(VerifierBroken, DoubleFinalize) {
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 3, 6, 64);
  plans[2].channels[0].steps[3].finalize = true;  // a recvCopySend of a finalized chunk
  expectRejected(verifyPlanSet(plans),
                 {"rank 2 channel 0 step 3 recvCopySend(from 1, to 0, dst output[2,4), "
                  "finalize): finalizes a value that is already finalized at output[2,4)"});
}

TEST(VerifierBroken, ReadsUnwrittenElements) {
  std::vector<Plan> plans = ringPlans(Collective::kAllGather, 3, 4, 64);
  plans[0].channels[0].steps[1].src = {Buffer::kOutput, 4, 4};  // block 1, not yet received
  expectRejected(verifyPlanSet(plans),
                 {"out-of-place: rank 0 channel 0 step 1 send(to 1, src output[4,8)): reads "
                  "elements that no step has written at output[4,8)"});
}

TEST(VerifierBroken, WritesTheInput) {
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 2, 4, 64);
  plans[0].channels[0].steps[2].dst.buffer = Buffer::kInput;
  expectRejected(verifyPlanSet(plans), {"rank 0 channel 0 step 2 recv(from 1, dst input[2,4)): "
                                        "writes input[2,4), but the input (the caller's send "
                                        "buffer) is read-only"});
}

TEST(VerifierBroken, InPlaceAliasingIsChecked) {
  // A 2-rank all-reduce that receives the peer's data into the output before it reduces with its
  // input: right out of place, wrong in place (output == input, so the input is overwritten).
  std::vector<Plan> plans;
  for (int r = 0; r < 2; ++r) {
    Plan p;
    p.collective = Collective::kAllReduce;
    p.nranks = 2;
    p.rank = r;
    p.count = p.inputCount = p.outputCount = 4;
    p.fifoElems = 8;
    p.channels.resize(1);
    Step send;
    send.kind = StepKind::kSend;
    send.sendPeer = 1 - r;
    send.src = {Buffer::kInput, 0, 4};
    Step recv;
    recv.kind = StepKind::kRecv;
    recv.recvPeer = 1 - r;
    recv.dst = {Buffer::kOutput, 0, 4};
    Step sum;
    sum.kind = StepKind::kReduce;
    sum.src = {Buffer::kInput, 0, 4};
    sum.src2 = {Buffer::kOutput, 0, 4};
    sum.dst = {Buffer::kOutput, 0, 4};
    sum.finalize = true;
    p.channels[0].steps = {send, recv, sum};
    plans.push_back(p);
  }
  VerifyOptions outOfPlaceOnly;
  outOfPlaceOnly.inPlace = false;
  EXPECT_TRUE(verifyPlanSet(plans, outOfPlaceOnly).ok);
  const VerifyReport report = verifyPlanSet(plans);
  expectRejected(report,
                 {"in-place: rank 0 output[0,4) is wrong (4 wrong elements on this rank): "
                  "element 0 holds the wrong contributions (rank 0's input[0] is missing and rank "
                  "1's is counted twice)",
                  "last written by rank 0 channel 0 step 2 reduce(src input[0,4), src2 "
                  "output[0,4), dst output[0,4), finalize)"});
}

TEST(VerifierBroken, PartialOverlap) {
  // A copy between overlapping parts of the scratch buffer.
  Plan p;
  p.collective = Collective::kAllReduce;
  p.nranks = 1;
  p.count = p.inputCount = p.outputCount = 3;
  p.scratchCount = 4;
  p.fifoElems = 4;
  p.channels.resize(1);
  Step a;
  a.kind = StepKind::kCopy;
  a.src = {Buffer::kInput, 0, 3};
  a.dst = {Buffer::kScratch, 0, 3};
  Step b = a;
  b.src = {Buffer::kScratch, 0, 3};
  b.dst = {Buffer::kScratch, 1, 3};
  Step c = a;
  c.src = {Buffer::kScratch, 1, 3};
  c.dst = {Buffer::kOutput, 0, 3};
  c.finalize = true;
  p.channels[0].steps = {a, b, c};
  expectRejected(verifyPlanSet({p}),
                 {"out-of-place: rank 0 channel 0 step 1 copy(src scratch[0,3), dst scratch[1,4)): "
                  "source and destination overlap partially in this placement at scratch[1,4)"});
  p.channels[0].steps = {a, c};
  p.channels[0].steps[1].src.offset = 0;
  EXPECT_TRUE(verifyPlanSet({p}).ok) << verifyPlanSet({p}).text();
}

TEST(VerifierBroken, RaceBetweenChannels) {
  // Two channels of rank 0 both write output[0,2) of a 2-rank all-reduce.
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 2, 8, 64, 2);
  Step& s = plans[0].channels[1].steps.back();  // recv into channel 1's part
  ASSERT_EQ(s.kind, StepKind::kRecv);
  s.dst.offset = 0;
  expectRejected(verifyPlanSet(plans),
                 {"out-of-place: rank 0 channel 0 step 1 recvReduceCopySend(from 1, to 1, src "
                  "input[0,2), dst output[0,2), finalize) writes output[0,2) that rank 0 channel 1 "
                  "step 2 recv(from 1, dst output[0,2)) also writes; channels run concurrently, so "
                  "this is a race"});
}

TEST(VerifierBroken, ChannelsSharingAConnection) {
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 2, 8, 64, 2);
  plans[1].channels[1].connection = 0;
  expectRejected(verifyPlanSet(plans), {"rank 1 channel 1: connection 0 is already used"});
}

TEST(VerifierBroken, PlansThatDisagree) {
  std::vector<Plan> plans = ringPlans(Collective::kAllReduce, 3, 8, 64);
  plans[2].count = 9;
  expectRejected(verifyPlanSet(plans), {"rank 2: the plan is for allreduce count 9"});
  plans = ringPlans(Collective::kAllGather, 3, 8, 64);
  plans[1].outputCount = 16;
  expectRejected(verifyPlanSet(plans), {"rank 1: the plan declares input 8 and output 16 elements "
                                        "but allgather of count 8 on 3 ranks"});
}

TEST(VerifierBroken, BuilderThatThrows) {
  BuildRequest q;
  q.nranks = 4;
  q.count = 10;
  q.fifoElems = 1;  // too small for a ring
  expectRejected(verifyBuilder(buildRing, q), {"rank 0: the builder failed", "fifoElems 1"});
  EXPECT_THROW(requireVerified(verifyBuilder(buildRing, q), "ring allreduce"), Error);
}

TEST(VerifierBroken, PointToPointSets) {
  // Rank 0 sends 5 elements to rank 2, rank 2 receives them; rank 1 has nothing to do.
  Plan idle = buildSend(3, 1, 0, 0);
  EXPECT_TRUE(verifyPlanSet({buildSend(3, 0, 2, 5), idle, buildRecv(3, 2, 0, 5)}).ok);
  // The receiver expects 6.
  expectRejected(verifyPlanSet({buildSend(3, 0, 2, 5), idle, buildRecv(3, 2, 0, 6)}),
                 {"rank 2 channel 0 step 0 recv(from 0, dst output[0,6)): expects a message of 6 "
                  "elements but the next message from rank 0 on connection 32 has 5 elements"});
  // Nobody receives.
  expectRejected(verifyPlanSet({buildSend(3, 0, 2, 5), idle, buildSend(3, 2, 1, 0)}),
                 {"rank 0 channel 0 step 0 send(to 2, src input[0,5)) sent a message of 5 "
                  "elements that rank 2 never receives"});
}

}  // namespace
}  // namespace plexus::algo
