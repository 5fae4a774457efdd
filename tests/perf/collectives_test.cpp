// Byte counts, bandwidth factors and data layouts of the nine collectives (nccl-tests'
// definitions, ../shared/REFERENCE.md).
#include <gtest/gtest.h>

#include "common/collectives.hpp"

namespace plexus::perf {
namespace {

const Collective* const kAll[] = {&kAllReduce, &kAllGather, &kReduceScatter, &kBroadcast, &kReduce,
                                  &kSendRecv,  &kAlltoAll,  &kGather,        &kScatter};

TEST(PerfCollectives, BusBandwidthFactors) {
  EXPECT_DOUBLE_EQ(kAllReduce.busFactor(4), 1.5);  // 2(n-1)/n
  EXPECT_DOUBLE_EQ(kAllReduce.busFactor(8), 1.75);
  EXPECT_DOUBLE_EQ(kAllReduce.busFactor(1), 0.0);
  for (const Collective* c : {&kAllGather, &kReduceScatter, &kAlltoAll, &kGather, &kScatter}) {
    EXPECT_DOUBLE_EQ(c->busFactor(4), 0.75) << c->name;  // (n-1)/n
    EXPECT_DOUBLE_EQ(c->busFactor(3), 2.0 / 3.0) << c->name;
  }
  for (const Collective* c : {&kBroadcast, &kReduce, &kSendRecv}) {
    EXPECT_DOUBLE_EQ(c->busFactor(4), 1.0) << c->name;
    EXPECT_DOUBLE_EQ(c->busFactor(7), 1.0) << c->name;
  }
  EXPECT_DOUBLE_EQ(busBandwidth(kAllReduce, 10.0, 4), 15.0);
}

TEST(PerfCollectives, AlgorithmBytesCountAllRanksForGatherLikeOps) {
  for (const Collective* c : {&kAllReduce, &kBroadcast, &kReduce, &kSendRecv})
    EXPECT_EQ(c->algBytes(100, 4, 8), 400u) << c->name;
  for (const Collective* c : {&kAllGather, &kReduceScatter, &kAlltoAll, &kGather, &kScatter})
    EXPECT_EQ(c->algBytes(100, 4, 8), 3200u) << c->name;
}

TEST(PerfCollectives, CountsFollowNcclTests) {
  // 1000 elements over 3 ranks: per-rank blocks of 333.
  CollCounts ar = kAllReduce.counts(1000, 3);
  EXPECT_EQ(ar.sendCount, 1000u);
  EXPECT_EQ(ar.recvCount, 1000u);
  EXPECT_EQ(ar.paramCount, 1000u);
  EXPECT_EQ(ar.sendInplaceOffset, 0u);
  EXPECT_EQ(ar.recvInplaceOffset, 0u);
  for (const Collective* c : {&kAllGather, &kGather}) {
    CollCounts g = c->counts(1000, 3);
    EXPECT_EQ(g.sendCount, 333u);
    EXPECT_EQ(g.recvCount, 999u);
    EXPECT_EQ(g.paramCount, 333u);
    EXPECT_EQ(g.sendInplaceOffset, 333u);
    EXPECT_EQ(g.recvInplaceOffset, 0u);
  }
  for (const Collective* c : {&kReduceScatter, &kScatter}) {
    CollCounts s = c->counts(1000, 3);
    EXPECT_EQ(s.sendCount, 999u);
    EXPECT_EQ(s.recvCount, 333u);
    EXPECT_EQ(s.paramCount, 333u);
    EXPECT_EQ(s.sendInplaceOffset, 0u);
    EXPECT_EQ(s.recvInplaceOffset, 333u);
  }
  CollCounts a = kAlltoAll.counts(1000, 3);
  EXPECT_EQ(a.sendCount, 999u);
  EXPECT_EQ(a.recvCount, 999u);
  EXPECT_EQ(a.paramCount, 333u);
  // Fewer elements than ranks: nothing to move, but still a valid call.
  EXPECT_EQ(kAllGather.counts(2, 4).paramCount, 0u);
  EXPECT_EQ(kAllReduce.counts(0, 4).paramCount, 0u);
}

TEST(PerfCollectives, LayoutsSayWhoSendsWhat) {
  RankLayout sr = kSendRecv.layout(0, 3, -1);
  ASSERT_EQ(sr.recv.size(), 1u);
  EXPECT_FALSE(sr.recv[0].reduce);
  EXPECT_EQ(sr.recv[0].source, 2);  // ring: from rank-1

  RankLayout rs = kReduceScatter.layout(2, 4, -1);
  EXPECT_EQ(rs.sendBlocks, 4);
  ASSERT_EQ(rs.recv.size(), 1u);
  EXPECT_TRUE(rs.recv[0].reduce);
  EXPECT_EQ(rs.recv[0].block, 2);

  RankLayout a2a = kAlltoAll.layout(1, 3, -1);
  EXPECT_EQ(a2a.sendBlocks, 3);
  ASSERT_EQ(a2a.recv.size(), 3u);
  for (int b = 0; b < 3; ++b) {
    EXPECT_EQ(a2a.recv[static_cast<size_t>(b)].source, b);
    EXPECT_EQ(a2a.recv[static_cast<size_t>(b)].block, 1);
  }

  EXPECT_TRUE(kReduce.layout(0, 3, 1).recv.empty());
  EXPECT_EQ(kReduce.layout(1, 3, 1).recv.size(), 1u);
  EXPECT_TRUE(kGather.layout(2, 3, 0).recv.empty());
  EXPECT_EQ(kGather.layout(0, 3, 0).recv.size(), 3u);
  RankLayout sc = kScatter.layout(2, 3, 1);
  ASSERT_EQ(sc.recv.size(), 1u);
  EXPECT_EQ(sc.recv[0].source, 1);
  EXPECT_EQ(sc.recv[0].block, 2);
  RankLayout bc = kBroadcast.layout(0, 3, 2);
  EXPECT_EQ(bc.recv[0].source, 2);
}

TEST(PerfCollectives, TableIsConsistent) {
  for (const Collective* c : kAll) {
    EXPECT_EQ(c->checkInPlace, c != &kSendRecv) << c->name;
    bool reduces = c == &kAllReduce || c == &kReduceScatter || c == &kReduce;
    EXPECT_EQ(c->hasOp, reduces) << c->name;
    bool rooted = c == &kBroadcast || c == &kReduce || c == &kGather || c == &kScatter;
    EXPECT_EQ(c->hasRoot, rooted) << c->name;
  }
}

}  // namespace
}  // namespace plexus::perf
