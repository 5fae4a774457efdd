// Plan IR basics and the ring / point-to-point builders, checked by running them on concrete
// integers (concrete_run.hpp) for small rank counts, in and out of place.
#include <gtest/gtest.h>

#include "algorithms/builders.hpp"
#include "base/error.hpp"
#include "concrete_run.hpp"

namespace plexus::algo {
namespace {

using testing::concreteInput;
using testing::concreteOutput;
using testing::concreteRun;

TEST(PlanIr, NamesAndDescribe) {
  EXPECT_STREQ(collectiveName(Collective::kReduceScatter), "reducescatter");
  EXPECT_STREQ(bufferName(Buffer::kScratch), "scratch");
  EXPECT_STREQ(stepKindName(StepKind::kRecvReduceCopySend), "recvReduceCopySend");
  Step s;
  s.kind = StepKind::kRecvReduceCopySend;
  s.recvPeer = 2;
  s.sendPeer = 4;
  s.src = {Buffer::kInput, 8, 4};
  s.dst = {Buffer::kOutput, 8, 4};
  s.finalize = true;
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(s.describe(),
            "recvReduceCopySend(from 2, to 4, src input[8,12), dst output[8,12), finalize)");
  Step send;
  send.kind = StepKind::kSend;
  send.sendPeer = 1;
  send.src = {Buffer::kScratch, 0, 3};
  EXPECT_EQ(send.count(), 3u);
  EXPECT_EQ(send.describe(), "send(to 1, src scratch[0,3))");
  Plan p;
  p.channels.resize(2);
  p.channels[0].steps = {s, send};
  p.channels[1].steps = {send};
  EXPECT_EQ(p.stepCount(), 3u);
  const std::string d = p.describe();
  EXPECT_NE(d.find("3 steps"), std::string::npos);
  EXPECT_NE(d.find("1: send(to 1, src scratch[0,3))"), std::string::npos);
}

TEST(PlanIr, ChannelPart) {
  EXPECT_EQ(channelPart(10, 0, 3), (std::pair<uint64_t, uint64_t>{0, 4}));
  EXPECT_EQ(channelPart(10, 1, 3), (std::pair<uint64_t, uint64_t>{4, 7}));
  EXPECT_EQ(channelPart(10, 2, 3), (std::pair<uint64_t, uint64_t>{7, 10}));
  EXPECT_EQ(channelPart(2, 3, 4), (std::pair<uint64_t, uint64_t>{2, 2}));
  EXPECT_EQ(channelPart(0, 0, 1), (std::pair<uint64_t, uint64_t>{0, 0}));
}

TEST(P2PBuilders, SendAndRecv) {
  Plan s = buildSend(4, 1, 3, 100);
  EXPECT_EQ(s.collective, Collective::kSendRecv);
  ASSERT_EQ(s.channels.size(), 1u);
  EXPECT_EQ(s.channels[0].connection, kP2PConnection);
  ASSERT_EQ(s.stepCount(), 1u);
  EXPECT_EQ(s.channels[0].steps[0].kind, StepKind::kSend);
  EXPECT_EQ(s.channels[0].steps[0].sendPeer, 3);
  EXPECT_EQ(s.inputCount, 100u);
  Plan r = buildRecv(4, 3, 1, 100);
  ASSERT_EQ(r.stepCount(), 1u);
  EXPECT_EQ(r.channels[0].steps[0].kind, StepKind::kRecv);
  EXPECT_EQ(r.channels[0].steps[0].recvPeer, 1);
  EXPECT_EQ(r.outputCount, 100u);
  auto ranks = concreteRun({buildSend(2, 0, 1, 5), buildRecv(2, 1, 0, 5)}, false);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(concreteOutput(ranks[1], i), concreteInput(0, i));
  EXPECT_EQ(buildSend(2, 0, 1, 0).stepCount(), 0u);
  EXPECT_THROW(buildSend(2, 0, 2, 1), Error);
}

TEST(RingBuilder, RejectsBadRequests) {
  BuildRequest r;
  r.nranks = 4;
  r.count = 10;
  r.fifoElems = 8;
  r.rings = {{0, 1, 2, 2}};
  EXPECT_THROW(buildRing(r), Error);
  r.rings = {{0, 1, 2, 3}, {3, 2, 1, 0}};
  EXPECT_THROW(buildRing(r), Error);  // 2 orders for 1 channel
  r.rings.clear();
  r.fifoElems = 1;
  EXPECT_THROW(buildRing(r), Error);  // a ring needs two messages in flight
  r.fifoElems = 0;
  EXPECT_NO_THROW(buildRing(r));  // 0: an unbounded FIFO
  r.fifoElems = 8;
  r.nchannels = kMaxChannels + 1;
  EXPECT_THROW(buildRing(r), Error);
  r.nchannels = 1;
  r.collective = Collective::kAllToAll;
  EXPECT_THROW(buildRing(r), Error);
  r.collective = Collective::kBroadcast;
  r.root = 4;
  EXPECT_THROW(buildRing(r), Error);
  r.fifoElems = 1;
  r.root = 0;
  EXPECT_NO_THROW(buildRing(r));  // a chain runs with one message per FIFO
}

// Every builder checks its request in one place (validate_request.cpp): the message names the
// algorithm, the collective and the field.
std::string buildError(Plan (*build)(const BuildRequest&), const BuildRequest& r) {
  try {
    build(r);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(BuilderChecks, NameAlgorithmCollectiveAndField) {
  BuildRequest r;
  r.nranks = 4;
  r.count = 8;
  r.fifoElems = 8;
  r.rings = {{0, 1, 2, 2}};
  EXPECT_NE(buildError(buildRing, r).find("ring allreduce: ring order 0 is not a permutation"),
            std::string::npos);
  r.rings.clear();
  r.fifoElems = 1;
  EXPECT_NE(buildError(buildRing, r).find("ring allreduce: fifoElems 1 is too small"),
            std::string::npos);
  r.fifoElems = 8;
  r.rank = 4;
  EXPECT_NE(buildError(buildTree, r).find("tree allreduce: rank 4 outside 0..3"),
            std::string::npos);
  r.rank = 0;
  r.collective = Collective::kAllToAll;
  EXPECT_NE(buildError(buildRing, r).find("algorithm ring does not implement alltoall"),
            std::string::npos);
  r.collective = Collective::kAllReduce;
  r.groups = {{0, 1}, {1, 3}};
  EXPECT_NE(buildError(buildHier, r).find("hier allreduce: domain 1 lists rank 1"),
            std::string::npos);
  r.groups = {{0, 1}, {2, 3}};
  EXPECT_EQ(buildError(buildHier, r), "no error");
}

// Expected output element i of rank r (finalize = negation, applied once).
int64_t expected(const BuildRequest& q, int r, uint64_t i) {
  const int n = q.nranks;
  int64_t sum = 0;
  switch (q.collective) {
    case Collective::kAllReduce:
    case Collective::kReduce:
      for (int j = 0; j < n; ++j) sum += concreteInput(j, i);
      return -sum;
    case Collective::kReduceScatter:
      for (int j = 0; j < n; ++j) sum += concreteInput(j, static_cast<uint64_t>(r) * q.count + i);
      return -sum;
    case Collective::kAllGather:
      return concreteInput(static_cast<int>(i / q.count), i % q.count);
    case Collective::kBroadcast:
      return concreteInput(q.root, i);
    default:
      return 0;
  }
}

std::vector<Plan> buildAll(BuildRequest q) {
  std::vector<Plan> plans;
  for (int r = 0; r < q.nranks; ++r) {
    q.rank = r;
    plans.push_back(buildRing(q));
  }
  return plans;
}

TEST(RingBuilder, ConcreteResultsSmallRanks) {
  const Collective colls[] = {Collective::kAllReduce, Collective::kAllGather,
                              Collective::kReduceScatter, Collective::kBroadcast,
                              Collective::kReduce};
  for (Collective coll : colls) {
    for (int n = 1; n <= 7; ++n) {
      for (uint64_t count : {uint64_t{0}, uint64_t{1}, uint64_t(n > 1 ? n - 1 : 2), uint64_t(n),
                             uint64_t{13}, uint64_t{37}}) {
        for (int nch : {1, 2, 3}) {
          for (uint64_t fifo : {uint64_t{2}, uint64_t{5}, uint64_t{64}}) {
            BuildRequest q;
            q.collective = coll;
            q.nranks = n;
            q.count = count;
            q.nchannels = nch;
            q.fifoElems = fifo;
            q.root = (n - 1) / 2;
            if (nch == 3 && n > 2) {  // a different ring order per channel
              q.rings.resize(3);
              for (int c = 0; c < 3; ++c) {
                for (int i = 0; i < n; ++i) q.rings[c].push_back((i * (c + 1) + c) % n);
              }
              // (i*(c+1)+c) % n is a permutation only when gcd(c+1, n) == 1
              for (int c = 0; c < 3; ++c) {
                std::vector<char> seen(n, 0);
                bool perm = true;
                for (int x : q.rings[c]) perm = perm && !seen[x]++;
                if (!perm) {
                  q.rings[c].clear();
                  for (int i = 0; i < n; ++i) q.rings[c].push_back(n - 1 - i);
                }
              }
            }
            const std::vector<Plan> plans = buildAll(q);
            const uint64_t limit = (coll == Collective::kBroadcast || coll == Collective::kReduce)
                                       ? fifo
                                       : std::max<uint64_t>(1, fifo / 2);
            for (const Plan& p : plans) {
              for (const Channel& ch : p.channels) {
                for (const Step& s : ch.steps) {
                  if (stepSends(s.kind) || stepReceives(s.kind)) {
                    ASSERT_LE(s.count(), limit) << s.describe();
                  }
                  ASSERT_GT(s.count(), 0u) << s.describe();
                }
              }
            }
            for (bool inPlace : {false, true}) {
              SCOPED_TRACE(::testing::Message()
                           << collectiveName(coll) << " n=" << n << " count=" << count
                           << " nch=" << nch << " fifo=" << fifo << " inPlace=" << inPlace);
              const auto ranks = concreteRun(plans, inPlace);
              for (int r = 0; r < n; ++r) {
                const Plan& p = plans[static_cast<size_t>(r)];
                for (uint64_t i = 0; i < p.outputCount; ++i) {
                  ASSERT_EQ(concreteOutput(ranks[static_cast<size_t>(r)], i), expected(q, r, i))
                      << "rank " << r << " output[" << i << "]";
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace plexus::algo
