// The registry (names, aliases, buildPlan), PLEXUS_ALGO parsing and matching, the cost model and
// tuner (choices, filter, fallback, calibration against REFERENCE.md's DGX H100 figure), and the
// adapters from the topology module.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "algorithms/algo_filter.hpp"
#include "algorithms/registry.hpp"
#include "algorithms/topology_costs.hpp"
#include "algorithms/tuner.hpp"
#include "algorithms/verifier.hpp"
#include "base/error.hpp"
#include "topology/synthetic.hpp"

namespace plexus::algo {
namespace {

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Registry, NamesAndAliases) {
  EXPECT_EQ(
      algorithmsFor(Collective::kAllReduce),
      (std::vector<std::string>{"ring", "tree", "rhd", "oneshot", "twoshot", "nvls", "hier"}));
  EXPECT_EQ(algorithmsFor(Collective::kAllGather),
            (std::vector<std::string>{"ring", "recdoubling", "bruck", "direct"}));
  EXPECT_EQ(algorithmsFor(Collective::kBarrier), (std::vector<std::string>{"dissemination"}));
  ASSERT_NE(findAlgorithm(Collective::kBroadcast, "Chain"), nullptr);
  EXPECT_STREQ(findAlgorithm(Collective::kBroadcast, "ring")->name, "chain");
  EXPECT_STREQ(findAlgorithm(Collective::kAllReduce, "SWITCH")->name, "nvls");
  EXPECT_STREQ(findAlgorithm(Collective::kReduceScatter, "rhd")->name, "rechalving");
  EXPECT_EQ(findAlgorithm(Collective::kAllGather, "tree"), nullptr);
  Collective c;
  EXPECT_TRUE(parseCollective("All_Reduce", c));
  EXPECT_EQ(c, Collective::kAllReduce);
  EXPECT_TRUE(parseCollective("reduce-scatter", c));
  EXPECT_EQ(c, Collective::kReduceScatter);
  EXPECT_FALSE(parseCollective("allreduc", c));
  // Every algorithm of the table builds a plan that verifies for a small shape.
  for (const AlgorithmInfo& a : algorithmTable()) {
    BuildRequest q;
    q.collective = a.collective;
    q.nranks = 6;
    q.count = a.collective == Collective::kBarrier ? 0 : 11;
    q.fifoElems = 8;
    q.nchannels = 2;
    q.root = 4;
    q.groups = contiguousGroups(6, 3);
    const Builder b = [&](const BuildRequest& r) { return buildPlan(a.name, r); };
    const VerifyReport rep = verifyBuilder(b, q);
    EXPECT_TRUE(rep.ok) << a.name << " " << collectiveName(a.collective) << "\n" << rep.text();
    q.rank = 1;
    EXPECT_EQ(buildPlan(a.name, q).algorithm, a.name);
  }
}

TEST(Registry, BuildPlanErrorsAndFamilies) {
  BuildRequest q;
  q.nranks = 4;
  q.count = 10;
  q.fifoElems = 64;
  EXPECT_NE(errorOf([&] { buildPlan("bogus", q); })
                .find("unknown allreduce algorithm 'bogus' (known: ring, tree, rhd, oneshot, "
                      "twoshot, nvls, hier)"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { buildPlan("hier", q); }).find("no domains given"), std::string::npos);
  EXPECT_EQ(buildPlan("direct", q).algorithm, "oneshot");  // 10 <= 64 / 2: one piece
  q.count = 100;
  EXPECT_EQ(buildPlan("direct", q).algorithm, "twoshot");
  q.collective = Collective::kAllToAll;
  EXPECT_EQ(buildPlan("direct", q).algorithm, "pairwise");
  q.collective = Collective::kBroadcast;
  EXPECT_EQ(buildPlan("ring", q).algorithm, "chain");
}

TEST(AlgoFilter, NcclSyntax) {
  const AlgorithmInfo& ring = *findAlgorithm(Collective::kAllReduce, "ring");
  const AlgorithmInfo& tree = *findAlgorithm(Collective::kAllReduce, "tree");
  const AlgorithmInfo& rhd = *findAlgorithm(Collective::kAllReduce, "rhd");
  const AlgorithmInfo& agRing = *findAlgorithm(Collective::kAllGather, "ring");
  const AlgorithmInfo& bruck = *findAlgorithm(Collective::kAllGather, "bruck");
  const AlgorithmInfo& chain = *findAlgorithm(Collective::kBroadcast, "chain");
  const AlgorithmInfo& oneshot = *findAlgorithm(Collective::kAllReduce, "oneshot");
  const AlgorithmInfo& twoshot = *findAlgorithm(Collective::kAllReduce, "twoshot");

  AlgoFilter f;
  EXPECT_TRUE(f.allows(tree));
  EXPECT_FALSE(f.restricts(Collective::kAllReduce));

  f = AlgoFilter::parse("ring,Tree");
  EXPECT_TRUE(f.allows(ring));
  EXPECT_TRUE(f.allows(tree));
  EXPECT_FALSE(f.allows(rhd));
  EXPECT_TRUE(f.allows(agRing));
  EXPECT_FALSE(f.allows(bruck));
  EXPECT_TRUE(f.allows(chain));  // "ring" is an alias of the broadcast chain

  f = AlgoFilter::parse("^tree");
  EXPECT_TRUE(f.allows(ring));
  EXPECT_FALSE(f.allows(tree));
  EXPECT_TRUE(f.allows(bruck));

  f = AlgoFilter::parse("allreduce:tree;allgather:ring");
  EXPECT_FALSE(f.allows(ring));
  EXPECT_TRUE(f.allows(tree));
  EXPECT_TRUE(f.allows(agRing));
  EXPECT_FALSE(f.allows(bruck));
  EXPECT_TRUE(f.allows(chain));  // broadcast has no entry
  EXPECT_FALSE(f.restricts(Collective::kBroadcast));

  f = AlgoFilter::parse(" all_reduce : ^ring , rhd ; bruck ");
  EXPECT_FALSE(f.allows(ring));
  EXPECT_FALSE(f.allows(rhd));
  EXPECT_TRUE(f.allows(tree));
  EXPECT_TRUE(f.allows(bruck));
  EXPECT_FALSE(f.allows(agRing));  // the plain list applies to all-gather

  f = AlgoFilter::parse("allreduce:direct");  // a family: both direct all-reduces
  EXPECT_TRUE(f.allows(oneshot));
  EXPECT_TRUE(f.allows(twoshot));
  EXPECT_FALSE(f.allows(ring));

  EXPECT_NE(errorOf([] { AlgoFilter::parse("allgather:tree"); })
                .find("\"tree\" is not an algorithm of allgather (known: ring, recdoubling, bruck, "
                      "direct)"),
            std::string::npos);
  EXPECT_NE(errorOf([] { AlgoFilter::parse("rung"); }).find("\"rung\" is not an algorithm ("),
            std::string::npos);
  EXPECT_NE(
      errorOf([] { AlgoFilter::parse("allreduc:ring"); }).find("unknown collective \"allreduc\""),
      std::string::npos);
  EXPECT_NE(errorOf([] { AlgoFilter::parse("ring,,tree"); }).find("empty algorithm name"),
            std::string::npos);
  EXPECT_NE(errorOf([] {
              AlgoFilter::parse("allreduce:ring;allreduce:tree");
            }).find("allreduce is listed twice"),
            std::string::npos);
}

TuneRequest shmRequest(Collective c, int n, uint64_t count) {
  TuneRequest q;
  q.collective = c;
  q.nranks = n;
  q.count = count;
  q.elemSize = 4;
  q.fifoElems = (4u << 20) / 4;
  return q;
}

TEST(Tuner, PicksAndHonoursTheFilter) {
  const TopologyCosts shm = TopologyCosts::sharedMemoryHost();
  // Small messages: a latency algorithm; large: a bandwidth one.
  TuneResult r = evaluate(shmRequest(Collective::kAllReduce, 8, 2), shm);
  EXPECT_TRUE(findAlgorithm(Collective::kAllReduce, r.best.algorithm)->latency) << r.best.algorithm;
  r = evaluate(shmRequest(Collective::kAllReduce, 8, 64u << 20), shm);
  // Large: a bandwidth-optimal choice (on 8 ranks of one domain recursive halving-doubling moves
  // as few bytes as the ring, so either may win), and far from the one-shot.
  double ringUs = 0, oneShotUs = 0;
  for (const Candidate& c : r.candidates) {
    if (c.algorithm == "ring") ringUs = c.timeUs;
    if (c.algorithm == "oneshot") oneShotUs = c.timeUs;
  }
  EXPECT_LE(r.best.timeUs, ringUs);
  EXPECT_GT(oneShotUs, 3 * r.best.timeUs);
  EXPECT_EQ(r.candidates.size(), 7u);
  // hier has no domains here: listed, not runnable.
  for (const Candidate& c : r.candidates) {
    if (c.algorithm == "hier") {
      EXPECT_FALSE(c.runnable);
      EXPECT_NE(c.note.find("no domains"), std::string::npos);
    }
  }
  // Forced.
  r = evaluate(shmRequest(Collective::kAllReduce, 8, 64u << 20), shm,
               AlgoFilter::parse("allreduce:tree"));
  EXPECT_EQ(r.best.algorithm, "tree");
  EXPECT_TRUE(r.warning.empty());
  // Forced but impossible: falls back with a warning that names the filter and the reason.
  r = evaluate(shmRequest(Collective::kAllReduce, 8, 1024), shm, AlgoFilter::parse("hier"));
  EXPECT_NE(r.best.algorithm, "hier");
  EXPECT_NE(r.warning.find("PLEXUS_ALGO=\"hier\" leaves no algorithm that can run allreduce"),
            std::string::npos)
      << r.warning;
  EXPECT_NE(r.warning.find("no domains"), std::string::npos) << r.warning;
  // Every all-gather algorithm excluded: fallback too.
  r = evaluate(shmRequest(Collective::kAllGather, 8, 1024), shm,
               AlgoFilter::parse("allgather:^ring,recdoubling,bruck,direct"));
  EXPECT_FALSE(r.warning.empty());
  // With domains, hier runs.
  TuneRequest q = shmRequest(Collective::kAllReduce, 8, 1024);
  q.groups = contiguousGroups(8, 4);
  r = evaluate(q, TopologyCosts::hosts(4), AlgoFilter::parse("hier"));
  EXPECT_EQ(r.best.algorithm, "hier");
  // Channel bounds; ring orders cycle over the channels.
  q.channels = 3;
  q.rings = {{0, 1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1, 0}};
  r = evaluate(q, shm, AlgoFilter::parse("ring"));
  EXPECT_EQ(r.best.nchannels, 3);
  const BuildRequest br = buildRequestFor(q, r.best, 2);
  ASSERT_EQ(br.rings.size(), 3u);
  EXPECT_EQ(br.rings[2], q.rings[0]);
  EXPECT_TRUE(verifyBuilder(buildRing, br).ok);
  q.rings.clear();
  q.channels = 0;
  q.minChannels = 2;
  q.maxChannels = 2;
  r = evaluate(q, shm);
  EXPECT_EQ(r.best.nchannels, 2);
}

TEST(Tuner, EveryCollectiveHasACandidateAndTheChoiceVerifies) {
  const TopologyCosts costs[] = {TopologyCosts::sharedMemoryHost(), TopologyCosts::tcp(25),
                                 TopologyCosts::hosts(4, 100)};
  for (const TopologyCosts& k : costs) {
    for (int c = 0; c <= static_cast<int>(Collective::kBarrier); ++c) {
      const Collective coll = static_cast<Collective>(c);
      if (coll == Collective::kSendRecv) continue;
      for (uint64_t count : {uint64_t{0}, uint64_t{3}, uint64_t{1000}, uint64_t{1} << 22}) {
        if (coll == Collective::kBarrier && count > 0) continue;
        TuneRequest q = shmRequest(coll, 8, count);
        q.fifoElems = 64;
        q.root = 5;
        q.groups = contiguousGroups(8, 4);
        const TuneResult r = evaluate(q, k);
        ASSERT_TRUE(std::isfinite(r.best.timeUs)) << collectiveName(coll);
        if (count > 2000) continue;  // the symbolic check below stays small
        const Builder b = [&](const BuildRequest& req) {
          return buildPlan(r.best.algorithm, buildRequestFor(q, r.best, req.rank));
        };
        BuildRequest shape;
        shape.collective = coll;
        shape.nranks = 8;
        const VerifyReport rep = verifyBuilder(b, shape);
        ASSERT_TRUE(rep.ok) << collectiveName(coll) << " " << r.best.algorithm << "\n"
                            << rep.text();
      }
    }
  }
}

TEST(Tuner, CalibratedOnDgxH100) {
  // REFERENCE.md: NCCL all-reduce busbw on 8 x H100 over NVLink ~370 GB/s (ring, no NVLS).
  const topo::System sys = topo::makeSyntheticSystem("dgx-h100");
  const TopologyCosts k = costsFromSystem(sys);
  EXPECT_NEAR(k.intra.bwGBps, 370.8, 1.0);
  EXPECT_TRUE(k.switchReduction);
  TuneRequest q = shmRequest(Collective::kAllReduce, 8, (uint64_t{1} << 30) / 4);
  q.fifoElems = (4u << 20) / 4;
  const TuneResult r = evaluate(q, k, AlgoFilter::parse("ring"));
  ASSERT_EQ(r.best.algorithm, "ring");
  const double busbw =
      callBytes(q.collective, 8, q.count, 4) / (r.best.timeUs * 1e3) * busFactor(q.collective, 8);
  EXPECT_NEAR(busbw, 370, 370 * 0.2) << busbw;
  // 16 DGX H100: latency algorithms for small messages, bandwidth ones for large.
  const topo::System cluster = topo::makeSyntheticSystem("dgx-h100:x16");
  const TopologyCosts kc = costsFromSystem(cluster, 128);
  EXPECT_EQ(kc.domainSize, 8);
  TuneRequest small = shmRequest(Collective::kAllReduce, 128, 256);
  small.groups = groupsFromSystem(cluster, 128);
  ASSERT_EQ(small.groups.size(), 16u);
  TuneResult rs = evaluate(small, kc);
  EXPECT_TRUE(findAlgorithm(Collective::kAllReduce, rs.best.algorithm)->latency)
      << rs.best.algorithm;
  TuneRequest large = small;
  large.count = (uint64_t{1} << 30) / 4;
  rs = evaluate(large, kc);
  EXPECT_FALSE(findAlgorithm(Collective::kAllReduce, rs.best.algorithm)->latency)
      << rs.best.algorithm;
}

TEST(Tuner, Report) {
  const topo::System sys = topo::makeSyntheticSystem("dgx-h100");
  TuneReportOptions o;
  o.maxBytes = 1 << 20;
  const std::string text = tuneReport(sys, o);
  EXPECT_NE(text.find("# allreduce, 8 ranks"), std::string::npos) << text;
  EXPECT_NE(text.find("ring us algbw busbw"), std::string::npos) << text;
  EXPECT_NE(text.find("nvls us algbw busbw"), std::string::npos) << text;
  o.json = true;
  o.collective = Collective::kAllGather;
  const nlohmann::json j = nlohmann::json::parse(tuneReport(sys, o));
  EXPECT_EQ(j["collective"], "allgather");
  ASSERT_FALSE(j["rows"].empty());
  EXPECT_EQ(j["rows"][0]["candidates"].size(), 4u);
  EXPECT_TRUE(j["rows"][0]["chosen"].contains("algorithm"));
}

topo::RankSummary summary(int rank, uint64_t host, const char* nic) {
  topo::RankSummary s;
  s.rank = rank;
  s.hostHash = host;
  s.hostname = "h" + std::to_string(host);
  s.summary.nicName = nic;
  return s;
}

TEST(TopologyCosts, FromClusterView) {
  topo::ClusterView two(
      {summary(0, 1, "eth0"), summary(1, 1, "eth0"), summary(2, 2, "eth0"), summary(3, 2, "eth0")});
  EXPECT_EQ(hierGroupsFromCluster(two), (std::vector<std::vector<int>>{{0, 1}, {2, 3}}));
  const TopologyCosts k = costsFromCluster(two, {20, 0.5, 1, 8}, {10, 20, 4, 4});
  EXPECT_EQ(k.domainSize, 2);
  EXPECT_DOUBLE_EQ(k.inter.bwGBps, 5);  // one NIC shared by two ranks
  EXPECT_EQ(k.maxChannels, 4);
  const auto rings = ringOrdersFromCluster(two, 3);
  ASSERT_EQ(rings.size(), 3u);
  // Rail-matched (ring_orders.hpp): host 1 walked backward, every crossing local i -> local i.
  EXPECT_EQ(rings[0], (std::vector<int>{0, 1, 3, 2}));
  EXPECT_EQ(rings[1], (std::vector<int>{1, 0, 2, 3}));
  EXPECT_EQ(rings[2], (std::vector<int>{0, 1, 3, 2}));
  topo::ClusterView uneven({summary(0, 1, "a"), summary(1, 1, "b"), summary(2, 2, "a")});
  EXPECT_TRUE(hierGroupsFromCluster(uneven).empty());
  topo::ClusterView one({summary(0, 1, "a"), summary(1, 1, "b")});
  EXPECT_EQ(costsFromCluster(one, {20, 0.5, 1, 8}, {10, 20, 4, 4}).domainSize, 0);
}

TEST(TopologyCosts, OversubscribedAllReduceUsesOneChannel) {
  // 8 ranks on a host of 2 hardware threads (shm's costs): a rank's channels share its slice of a
  // core, so a second channel only adds messages (its steps take turns with the first's) and, the
  // rank's copy rate being its share of a core, no bandwidth: one channel at every size (two at
  // 8-64 MB measured 1.5-2x slower, docs/performance.md).
  std::vector<topo::RankSummary> ranks;
  for (int r = 0; r < 8; ++r) {
    ranks.push_back(summary(r, 1, "eth0"));
    ranks.back().summary.threads = 2;
  }
  const topo::ClusterView host(ranks);
  const TopologyCosts k = costsFromCluster(host, {10, 1, 1, 2}, {10, 20, 4, 4});
  EXPECT_DOUBLE_EQ(k.ranksPerThread, 4);
  for (uint64_t bytes : {uint64_t{8}, uint64_t{512}, uint64_t{4096}, uint64_t{1} << 20,
                         uint64_t{8} << 20, uint64_t{32} << 20, uint64_t{64} << 20}) {
    TuneRequest q = shmRequest(Collective::kAllReduce, 8, bytes / 4);
    q.fifoElems = 4 * (128u << 10) / 4;
    const TuneResult r = evaluate(q, k);
    EXPECT_EQ(r.best.nchannels, 1) << bytes << " bytes: " << r.best.algorithm;
  }
  // A core per rank: nothing changes.
  for (auto& s : ranks) s.summary.threads = 16;
  EXPECT_DOUBLE_EQ(
      costsFromCluster(topo::ClusterView(ranks), {10, 1, 1, 2}, {10, 20, 4, 4}).ranksPerThread, 1);
}

}  // namespace
}  // namespace plexus::algo
