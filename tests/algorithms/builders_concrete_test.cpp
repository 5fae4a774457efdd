// Every registered builder run on concrete integers (concrete_run.hpp: sum, finalize = negation)
// for 1..9 ranks, several counts, channel counts, FIFO sizes and chunk caps, in and out of place,
// against plain arithmetic; all-reduce algorithms on doubles give bit-identical results on every
// rank, and one-shot / two-shot reduce in rank order exactly. Also the trees' shape and the
// builders' argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <set>

#include "algorithms/canonical.hpp"
#include "algorithms/registry.hpp"
#include "base/error.hpp"
#include "concrete_run.hpp"

namespace plexus::algo {
namespace {

using testing::concreteInput;
using testing::concreteOutput;
using testing::concreteRun;

int64_t sumOver(int n, uint64_t i) {
  int64_t s = 0;
  for (int j = 0; j < n; ++j) s += concreteInput(j, i);
  return s;
}

// Expected output element i of rank r, or false when the element is not defined.
bool expected(const BuildRequest& q, int r, uint64_t i, int64_t& want) {
  const int n = q.nranks;
  const uint64_t C = q.count;
  switch (q.collective) {
    case Collective::kAllReduce:
      want = -sumOver(n, i);
      return true;
    case Collective::kReduce:
      want = -sumOver(n, i);
      return r == q.root;
    case Collective::kReduceScatter:
      want = -sumOver(n, static_cast<uint64_t>(r) * C + i);
      return true;
    case Collective::kAllGather:
      want = concreteInput(static_cast<int>(i / C), i % C);
      return true;
    case Collective::kBroadcast:
      want = concreteInput(q.root, i);
      return true;
    case Collective::kAllToAll:
      want = concreteInput(static_cast<int>(i / C), static_cast<uint64_t>(r) * C + i % C);
      return true;
    case Collective::kGather:
      want = concreteInput(static_cast<int>(i / C), i % C);
      return r == q.root;
    case Collective::kScatter:
      want = concreteInput(q.root, static_cast<uint64_t>(r) * C + i);
      return true;
    default:
      return false;
  }
}

std::vector<Plan> buildAll(const AlgorithmInfo& a, BuildRequest q) {
  std::vector<Plan> plans;
  for (int r = 0; r < q.nranks; ++r) {
    q.rank = r;
    plans.push_back(a.build(q));
  }
  return plans;
}

std::vector<std::vector<int>> someGroups(int n, int variant) {
  int g = 1;
  for (int d = 2; d < n; ++d) {
    if (n % d == 0) {
      g = d;
      if (variant == 0) break;
    }
  }
  if (variant == 2) g = n;
  auto groups = contiguousGroups(n, g);
  if (variant == 1) {  // members of domain d: d, d + m, d + 2m, ...
    const int m = n / g;
    for (int d = 0; d < m; ++d)
      for (int i = 0; i < g; ++i)
        groups[static_cast<size_t>(d)][static_cast<size_t>(i)] = d + i * m;
  }
  return groups;
}

TEST(BuildersConcrete, EveryAlgorithmSmallRanks) {
  for (const AlgorithmInfo& a : algorithmTable()) {
    const bool inPlaceExists =
        a.collective != Collective::kAllToAll && a.collective != Collective::kBarrier;
    for (int n = 1; n <= 9; ++n) {
      for (uint64_t count :
           {uint64_t{0}, uint64_t{1}, uint64_t{3}, uint64_t(n), uint64_t{13}, uint64_t{37}}) {
        if (a.collective == Collective::kBarrier && count > 0) continue;
        for (int nch : {1, 2, 3}) {
          for (uint64_t fifo : {uint64_t{0}, uint64_t{2}, uint64_t{5}, uint64_t{64}}) {
            BuildRequest q;
            q.collective = a.collective;
            q.nranks = n;
            q.count = count;
            q.nchannels = nch;
            q.fifoElems = fifo;
            q.chunkElems = (nch == 2 && fifo == 64) ? 3 : 0;
            q.root = (n - 1) * nch / 3;
            if (std::string(a.name) == "hier") q.groups = someGroups(n, nch - 1);
            const std::vector<Plan> plans = buildAll(a, q);
            for (bool inPlace : {false, true}) {
              if (inPlace && !inPlaceExists) continue;
              SCOPED_TRACE(::testing::Message()
                           << a.name << " " << collectiveName(a.collective) << " n=" << n
                           << " count=" << count << " nch=" << nch << " fifo=" << fifo
                           << " inPlace=" << inPlace);
              std::vector<testing::ConcreteRank> ranks;
              ASSERT_NO_THROW(ranks = concreteRun(plans, inPlace));
              for (int r = 0; r < n; ++r) {
                const Plan& p = plans[static_cast<size_t>(r)];
                for (uint64_t i = 0; i < p.outputCount; ++i) {
                  int64_t want = 0;
                  if (!expected(q, r, i, want)) continue;
                  ASSERT_EQ(concreteOutput(ranks[static_cast<size_t>(r)], i), want)
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

// Inputs of very different magnitudes, so that the order of a floating-point sum shows.
double floatInput(int r, uint64_t i) {
  const int e = static_cast<int>((static_cast<uint64_t>(r) * 7 + i * 3) % 17) - 8;
  return std::ldexp(1.0 + 0.1234567 * r + 0.000321 * static_cast<double>(i), 3 * e);
}

TEST(BuildersConcrete, AllReduceIsBitIdenticalOnEveryRank) {
  for (const AlgorithmInfo& a : algorithmTable()) {
    if (a.collective != Collective::kAllReduce) continue;
    for (int n : {2, 3, 5, 8}) {
      for (int nch : {1, 2}) {
        BuildRequest q;
        q.nranks = n;
        q.count = 37;
        q.nchannels = nch;
        q.fifoElems = 6;
        if (std::string(a.name) == "hier") q.groups = someGroups(n, 0);
        const auto plans = buildAll(a, q);
        const auto ranks = testing::concreteRunT<double>(
            plans, false, floatInput, [](double x, double y) { return x + y; },
            [](double v) { return v; });
        for (uint64_t i = 0; i < q.count; ++i) {
          const double r0 = concreteOutput(ranks[0], i);
          for (int r = 1; r < n; ++r) {
            const double v = concreteOutput(ranks[static_cast<size_t>(r)], i);
            ASSERT_EQ(std::memcmp(&v, &r0, sizeof v), 0)
                << a.name << " n=" << n << " rank " << r << " element " << i << ": " << v
                << " vs rank 0's " << r0;
          }
          const std::string name = a.name;
          if (name == "oneshot" || name == "twoshot" || name == "nvls") {
            // The canonical order (canonical.hpp): ((x0 + x1) + (x2 + x3)) + x4 ...
            const std::function<double(int, int)> canon = [&](int lo, int hi) {
              if (hi - lo == 1) return floatInput(lo, i);
              const int mid = canonicalSplit(lo, hi);
              return canon(lo, mid) + canon(mid, hi);
            };
            const double seq = canon(0, n);
            ASSERT_EQ(std::memcmp(&seq, &r0, sizeof seq), 0) << name << " element " << i;
          }
        }
      }
    }
  }
}

TEST(BuildersConcrete, DoubleBinaryTreeShape) {
  for (int n = 1; n <= 300; ++n) {
    std::vector<int> innerCount(static_cast<size_t>(n), 0);
    for (int t = 0; t < 2; ++t) {
      const std::vector<TreeNode> tree = binaryTree(n, t);
      int roots = 0;
      for (int r = 0; r < n; ++r) {
        const TreeNode& node = tree[static_cast<size_t>(r)];
        ASSERT_LE(node.children.size(), 2u);
        if (node.parent < 0) ++roots;
        if (!node.children.empty()) ++innerCount[static_cast<size_t>(r)];
        for (int c : node.children) ASSERT_EQ(tree[static_cast<size_t>(c)].parent, r);
      }
      ASSERT_EQ(roots, 1) << "n=" << n;
      // Every rank reaches the root, within ceil(log2(n+1)) levels.
      const int depthLimit = static_cast<int>(std::ceil(std::log2(n + 1.0)));
      for (int r = 0; r < n; ++r) {
        int d = 0;
        for (int x = r; tree[static_cast<size_t>(x)].parent >= 0;
             x = tree[static_cast<size_t>(x)].parent) {
          ASSERT_LT(++d, depthLimit + 1) << "n=" << n << " tree " << t << " rank " << r;
        }
      }
    }
    for (int r = 0; r < n; ++r) {
      ASSERT_LE(innerCount[static_cast<size_t>(r)], 1)
          << "rank " << r << " of " << n << " is inner in both trees";
    }
  }
}

TEST(BuildersConcrete, RejectsBadRequests) {
  BuildRequest q;
  q.nranks = 4;
  q.count = 8;
  q.fifoElems = 8;
  q.collective = Collective::kAllGather;
  EXPECT_THROW(buildTree(q), Error);      // tree is all-reduce only
  EXPECT_THROW(buildPairwise(q), Error);  // pairwise is all-to-all only
  q.collective = Collective::kAllReduce;
  q.rank = 4;
  EXPECT_THROW(buildRecursive(q), Error);
  q.rank = 0;
  q.nchannels = 0;
  EXPECT_THROW(buildOneShot(q), Error);
  q.nchannels = 1;
  EXPECT_THROW(buildHier(q), Error);  // no domains
  q.groups = {{0, 1, 2}, {3}};
  try {
    buildHier(q);
    FAIL() << "unequal domains accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("domains of equal size"), std::string::npos) << e.what();
  }
  q.groups = {{0, 1}, {1, 3}};
  EXPECT_THROW(buildHier(q), Error);
  q.groups = {{0, 1}, {2, 3}};
  EXPECT_NO_THROW(buildHier(q));
  q.collective = Collective::kBroadcast;
  q.root = 4;
  EXPECT_THROW(buildBinomial(q), Error);
}

}  // namespace
}  // namespace plexus::algo
