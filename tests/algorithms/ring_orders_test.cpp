// Rail-matched ring orders (algorithms/ring_orders.hpp): every ring visits every rank once and
// each domain's ranks together, every crossing stays on one rail (except the one forced where
// the rails cannot close), the channels spread over the rails, and ring plans built on these
// orders pass the symbolic verifier.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "algorithms/builders.hpp"
#include "algorithms/ring_orders.hpp"
#include "algorithms/verifier.hpp"

namespace plexus::algo {
namespace {

std::vector<std::vector<int>> domainsOf(int count, int size) {
  std::vector<std::vector<int>> d(static_cast<size_t>(count));
  for (int h = 0; h < count; ++h) {
    for (int i = 0; i < size; ++i) d[static_cast<size_t>(h)].push_back(h * size + i);
  }
  return d;
}

// Domain changes along the ring (wrapping): one per domain when a ring keeps domains together.
int crossings(const std::vector<int>& ring, int size) {
  int out = 0;
  for (size_t i = 0; i < ring.size(); ++i)
    out += ring[i] / size != ring[(i + 1) % ring.size()] / size ? 1 : 0;
  return out;
}

TEST(RingOrders, RailMatchedOnEveryShape) {
  for (int nd = 1; nd <= 7; ++nd) {
    for (int g : {1, 2, 3, 4, 8}) {
      const auto domains = domainsOf(nd, g);
      const int n = nd * g;
      const auto rings = railMatchedRings(domains, 2 * g);
      ASSERT_EQ(rings.size(), static_cast<size_t>(2 * g));
      std::vector<std::set<int>> exits(static_cast<size_t>(nd)), entries(exits.size());
      for (int c = 0; c < 2 * g; ++c) {
        const std::vector<int>& ring = rings[static_cast<size_t>(c)];
        std::vector<int> sorted = ring;
        std::sort(sorted.begin(), sorted.end());
        for (int r = 0; r < n; ++r) ASSERT_EQ(sorted[static_cast<size_t>(r)], r);
        if (nd > 1) {
          EXPECT_EQ(crossings(ring, g), nd) << nd << "x" << g << " channel " << c;
        }
        // Two ranks per domain and an odd domain count cannot close on the rails: one crossing.
        const int forced = g == 2 && nd % 2 == 1 && nd > 1 ? 1 : 0;
        EXPECT_EQ(railMismatches(ring, domains), forced) << nd << "x" << g << " channel " << c;
        for (size_t i = 0; i < ring.size() && c < g; ++i) {
          const int a = ring[i], b = ring[(i + 1) % ring.size()];
          if (a / g == b / g) continue;
          exits[static_cast<size_t>(a / g)].insert(a % g);
          entries[static_cast<size_t>(b / g)].insert(b % g);
        }
      }
      // Channels 0..g-1 leave and enter every domain on g different rails.
      for (int h = 0; h < nd && nd > 1 && g > 2; ++h) {
        EXPECT_EQ(exits[static_cast<size_t>(h)].size(), static_cast<size_t>(g)) << nd << "x" << g;
        EXPECT_EQ(entries[static_cast<size_t>(h)].size(), static_cast<size_t>(g)) << nd << "x" << g;
      }
    }
  }
}

TEST(RingOrders, OneDomainRotatesAndTwoDomainsAreBoustrophedon) {
  const auto one = railMatchedRings(domainsOf(1, 4), 2);
  EXPECT_EQ(one[0], (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(one[1], (std::vector<int>{1, 2, 3, 0}));
  const auto two = railMatchedRings(domainsOf(2, 4), 2);
  EXPECT_EQ(two[0], (std::vector<int>{0, 1, 2, 3, 7, 6, 5, 4}));
  EXPECT_EQ(two[1], (std::vector<int>{1, 2, 3, 0, 4, 7, 6, 5}));
  const auto three = railMatchedRings(domainsOf(3, 4), 1);
  // Odd: domain 1 walked from rail 3 to rail 1, domain 2 from rail 1 back to rail 0.
  EXPECT_EQ(three[0], (std::vector<int>{0, 1, 2, 3, 7, 4, 6, 5, 9, 10, 11, 8}));
}

TEST(RingOrders, UnevenDomainsStillVisitEveryRankOnce) {
  const std::vector<std::vector<int>> domains = {{0, 1, 2}, {3, 4}, {5}, {6, 7, 8, 9}};
  for (const auto& ring : railMatchedRings(domains, 5)) {
    std::vector<int> sorted = ring;
    std::sort(sorted.begin(), sorted.end());
    for (int r = 0; r < 10; ++r) ASSERT_EQ(sorted[static_cast<size_t>(r)], r);
  }
}

// Ring and chain plans on rail-matched orders (one per channel) verify, for even and odd domain
// counts and non-power-of-two domains.
TEST(RingOrders, RingPlansVerify) {
  struct Shape {
    int domains, size;
  };
  for (const Shape s : {Shape{2, 4}, Shape{3, 4}, Shape{3, 2}, Shape{5, 3}, Shape{2, 8}}) {
    const int n = s.domains * s.size;
    for (Collective c : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                         Collective::kBroadcast, Collective::kReduce}) {
      for (int nch : {1, 3, 4}) {
        BuildRequest q;
        q.collective = c;
        q.nranks = n;
        q.count = 2 * static_cast<uint64_t>(n) + 5;
        q.nchannels = nch;
        q.fifoElems = 8;
        q.root = n / 3;
        q.rings = railMatchedRings(domainsOf(s.domains, s.size), nch);
        const VerifyReport report = verifyBuilder(buildRing, q);
        ASSERT_TRUE(report.ok) << collectiveName(c) << " " << s.domains << "x" << s.size << " nch "
                               << nch << ":\n"
                               << report.text();
      }
    }
  }
}

}  // namespace
}  // namespace plexus::algo
