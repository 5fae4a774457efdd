// The verifier's specifications of the collectives that have no builder yet (all-to-all, gather,
// scatter, barrier): simple direct plans pass in both placements, and plans that deliver a block
// to the wrong place are rejected. Also the size guard and custom builders.
#include <gtest/gtest.h>

#include "algorithms/builders.hpp"
#include "algorithms/verifier.hpp"

namespace plexus::algo {
namespace {

Step send(int peer, Slice src) {
  Step s;
  s.kind = StepKind::kSend;
  s.sendPeer = peer;
  s.src = src;
  return s;
}
Step recv(int peer, Slice dst) {
  Step s;
  s.kind = StepKind::kRecv;
  s.recvPeer = peer;
  s.dst = dst;
  return s;
}
Step copy(Slice src, Slice dst) {
  Step s;
  s.kind = StepKind::kCopy;
  s.src = src;
  s.dst = dst;
  return s;
}
Slice in(uint64_t off, uint64_t n) {
  return {Buffer::kInput, off, n};
}
Slice out(uint64_t off, uint64_t n) {
  return {Buffer::kOutput, off, n};
}

Plan base(Collective coll, int n, int r, uint64_t count, int root = -1) {
  Plan p;
  p.algorithm = "direct";
  p.collective = coll;
  p.nranks = n;
  p.rank = r;
  p.root = root;
  p.count = count;
  p.fifoElems = count > 0 ? count : 1;
  p.channels.resize(1);
  return p;
}

// All-to-all by direct exchange: all sends first, then all receives.
std::vector<Plan> allToAll(int n, uint64_t c) {
  std::vector<Plan> plans;
  for (int r = 0; r < n; ++r) {
    Plan p = base(Collective::kAllToAll, n, r, c);
    p.inputCount = p.outputCount = static_cast<uint64_t>(n) * c;
    auto& st = p.channels[0].steps;
    const uint64_t ur = static_cast<uint64_t>(r);
    st.push_back(copy(in(ur * c, c), out(ur * c, c)));
    for (int j = 0; j < n; ++j) {
      if (j != r) st.push_back(send(j, in(static_cast<uint64_t>(j) * c, c)));
    }
    for (int j = 0; j < n; ++j) {
      if (j != r) st.push_back(recv(j, out(static_cast<uint64_t>(j) * c, c)));
    }
    plans.push_back(p);
  }
  return plans;
}

std::vector<Plan> gather(int n, uint64_t c, int root) {
  std::vector<Plan> plans;
  for (int r = 0; r < n; ++r) {
    Plan p = base(Collective::kGather, n, r, c, root);
    p.inputCount = c;
    p.outputCount = r == root ? static_cast<uint64_t>(n) * c : 0;
    auto& st = p.channels[0].steps;
    if (r != root) {
      st.push_back(send(root, in(0, c)));
    } else {
      st.push_back(copy(in(0, c), out(static_cast<uint64_t>(r) * c, c)));
      for (int j = 0; j < n; ++j) {
        if (j != r) st.push_back(recv(j, out(static_cast<uint64_t>(j) * c, c)));
      }
    }
    plans.push_back(p);
  }
  return plans;
}

std::vector<Plan> scatter(int n, uint64_t c, int root) {
  std::vector<Plan> plans;
  for (int r = 0; r < n; ++r) {
    Plan p = base(Collective::kScatter, n, r, c, root);
    p.inputCount = r == root ? static_cast<uint64_t>(n) * c : 0;
    p.outputCount = c;
    auto& st = p.channels[0].steps;
    if (r != root) {
      st.push_back(recv(root, out(0, c)));
    } else {
      for (int j = 0; j < n; ++j) {
        if (j != r) st.push_back(send(j, in(static_cast<uint64_t>(j) * c, c)));
      }
      st.push_back(copy(in(static_cast<uint64_t>(r) * c, c), out(0, c)));
    }
    plans.push_back(p);
  }
  return plans;
}

// A token twice around the ring with zero-element messages: the first round tells rank 0 that
// everyone has entered, the second tells everyone else.
std::vector<Plan> barrier(int n) {
  std::vector<Plan> plans;
  for (int r = 0; r < n; ++r) {
    Plan p = base(Collective::kBarrier, n, r, 0);
    auto& st = p.channels[0].steps;
    if (n > 1) {
      for (int round = 0; round < 2; ++round) {
        if (r == 0) {
          st.push_back(send(1, in(0, 0)));
          st.push_back(recv(n - 1, out(0, 0)));
        } else {
          st.push_back(recv(r - 1, out(0, 0)));
          st.push_back(send((r + 1) % n, in(0, 0)));
        }
      }
    }
    plans.push_back(p);
  }
  return plans;
}

TEST(VerifierSpec, AllToAll) {
  for (int n : {1, 2, 5, 8}) {
    for (uint64_t c : {uint64_t{0}, uint64_t{1}, uint64_t{3}}) {
      const VerifyReport r = verifyPlanSet(allToAll(n, c));
      EXPECT_TRUE(r.ok) << "n=" << n << " c=" << c << "\n" << r.text();
    }
  }
  std::vector<Plan> bad = allToAll(4, 2);
  // Rank 2 sends rank 1 its block for rank 3.
  bad[2].channels[0].steps[2].src.offset = 6;
  const VerifyReport r = verifyPlanSet(bad);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.text().find("rank 1 output[4,6) is wrong (2 wrong elements on this rank): element 4 "
                          "holds the wrong contributions (rank 2's input[6]); expected rank 2's "
                          "input[2]; last written by rank 1 channel 0 step 5 recv(from 2, dst "
                          "output[4,6))"),
            std::string::npos)
      << r.text();
}

TEST(VerifierSpec, GatherAndScatter) {
  for (int n : {1, 2, 3, 7}) {
    for (int root : {0, n - 1, n / 2}) {
      for (uint64_t c : {uint64_t{0}, uint64_t{1}, uint64_t{5}}) {
        VerifyReport r = verifyPlanSet(gather(n, c, root));
        EXPECT_TRUE(r.ok) << "gather n=" << n << " root=" << root << " c=" << c << "\n" << r.text();
        r = verifyPlanSet(scatter(n, c, root));
        EXPECT_TRUE(r.ok) << "scatter n=" << n << " root=" << root << " c=" << c << "\n"
                          << r.text();
      }
    }
  }
  std::vector<Plan> bad = gather(3, 2, 1);
  bad[1].channels[0].steps[0].dst.offset = 0;  // the root's own block lands in block 0
  VerifyReport r = verifyPlanSet(bad);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.text().find("rank 1 output[2,4) is wrong (2 wrong elements on this rank): element 2 "
                          "was never written"),
            std::string::npos)
      << r.text();
  bad = scatter(3, 2, 0);
  bad[0].channels[0].steps[0].src.offset = 4;  // rank 1 gets rank 2's block
  r = verifyPlanSet(bad);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.text().find("rank 1 output[0,2) is wrong (2 wrong elements on this rank): element 0 "
                          "holds the wrong contributions (rank 0's input[4]); expected rank 0's "
                          "input[2]"),
            std::string::npos)
      << r.text();
}

TEST(VerifierSpec, Barrier) {
  for (int n : {1, 2, 3, 64}) {
    const VerifyReport r = verifyPlanSet(barrier(n));
    EXPECT_TRUE(r.ok) << n << "\n" << r.text();
  }
  std::vector<Plan> bad = barrier(4);
  bad[0].channels[0].steps.pop_back();  // rank 0 never takes the token back
  VerifyReport r = verifyPlanSet(bad);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.text().find("rank 3 channel 0 step 3 send(to 0, src input[0,0)) sent a message of 0 "
                          "elements that rank 0 never receives"),
            std::string::npos)
      << r.text();
  // One round only: rank 1 leaves having heard from rank 0 alone.
  bad = barrier(4);
  for (Plan& p : bad) p.channels[0].steps.resize(2);
  r = verifyPlanSet(bad);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.text().find("barrier: rank 1 can leave before rank 2 has entered"), std::string::npos)
      << r.text();
}

TEST(VerifierSpec, TooLargeIsAnErrorNotAnAllocation) {
  BuildRequest q;
  q.collective = Collective::kAllGather;
  q.nranks = 64;
  q.count = uint64_t{1} << 20;
  q.fifoElems = uint64_t{1} << 30;
  const VerifyReport r = verifyBuilder(buildRing, q);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.text().find("too large to verify symbolically"), std::string::npos) << r.text();
}

TEST(VerifierSpec, CustomBuilderFunction) {
  // A builder that wraps the ring and breaks rank 2's plan: the function path of the verifier.
  const Builder broken = [](const BuildRequest& q) {
    Plan p = buildRing(q);
    if (q.rank == 2) p.channels[0].steps.front().src.offset += 1;
    return p;
  };
  BuildRequest q;
  q.collective = Collective::kReduce;
  q.nranks = 4;
  q.root = 0;
  q.count = 10;
  q.fifoElems = 16;
  EXPECT_TRUE(verifyBuilder(buildRing, q).ok);
  const VerifyReport r = verifyBuilder(broken, q);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.text().find("rank 2 channel 0 step 0 recvReduceSend(from 1, to 3, src input[1,11)): "
                          "src input[1,11) is outside the input buffer of 10 elements"),
            std::string::npos)
      << r.text();
}

}  // namespace
}  // namespace plexus::algo
