// Every registered builder that is not a ring (ring_matrix covers those) verified symbolically,
// both placements, for N = 1..33, 64, 127, 128, 255, 576 and 1000 ranks, over counts (0, 1, N-1,
// N, a prime, a large one; per-rank counts for the block collectives), channel counts {1, 2, 4},
// FIFO sizes that force one-element messages or allow large ones, chunk caps, roots, and, for the
// hierarchical algorithm, several domain shapes with permuted members.
//
// Time budget: the exchange-style algorithms (one-shot, direct, pairwise, Bruck, recursive
// doubling/halving) move O(N^2) messages, so each configuration's size is estimated from rank 0's
// plan (steps and elements moved, x N) and the configurations of one case are taken in order until
// the case's step budget is spent (skipping the ones above the per-configuration cap); the cheapest
// configuration with data always runs. N <= 8 runs the full cross product.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "algorithms/registry.hpp"
#include "algorithms/verifier.hpp"

namespace plexus::algo {
namespace {

struct Case {
  size_t algo;  // index in algorithmTable()
  int nranks;
};

bool isRing(const AlgorithmInfo& a) {
  return std::string(a.name) == "ring" || std::string(a.name) == "chain";
}

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  const AlgorithmInfo& a = algorithmTable()[info.param.algo];
  return std::string(collectiveName(a.collective)) + "_" + a.name + "_" +
         std::to_string(info.param.nranks);
}

std::vector<int> permutation(int n, uint32_t seed) {
  std::vector<int> p(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  std::mt19937 rng(seed);
  for (int i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[rng() % (i + 1u)]);
  return p;
}

uint64_t primeAtLeast(uint64_t x) {
  auto prime = [](uint64_t v) {
    if (v < 2) return false;
    for (uint64_t d = 2; d * d <= v; ++d)
      if (v % d == 0) return false;
    return true;
  };
  while (!prime(x)) ++x;
  return x;
}

bool perBlock(Collective c) {
  return c == Collective::kAllGather || c == Collective::kReduceScatter ||
         c == Collective::kAllToAll || c == Collective::kGather || c == Collective::kScatter;
}

std::vector<uint64_t> countsFor(Collective c, int n) {
  const uint64_t un = static_cast<uint64_t>(n);
  if (c == Collective::kBarrier) return {0};
  std::vector<uint64_t> counts = {0, 1};
  if (perBlock(c)) {
    if (n <= 33) {
      counts.push_back(un > 1 ? un - 1 : 2);
      counts.push_back(un);
    }
    counts.push_back(2);
    counts.push_back(5);
    counts.push_back(primeAtLeast(std::max<uint64_t>(3, 40000 / (un * un))));
  } else {
    counts.push_back(un > 1 ? un - 1 : 2);
    counts.push_back(un);
    counts.push_back(primeAtLeast(un + un / 2 + 7));
    counts.push_back(n <= 33 ? 1003 : 2 * un + 3);
  }
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  return counts;
}

// Domain shapes for the hierarchical algorithm: several group sizes that divide n, members
// permuted so that domains are not contiguous rank ranges.
std::vector<std::vector<int>> groupsFor(int n, size_t variant) {
  std::vector<int> divisors;
  for (int d = 1; d <= n; ++d) {
    if (n % d == 0) divisors.push_back(d);
  }
  const int g = divisors[variant % divisors.size()];
  const std::vector<int> perm = variant % 2 ? permutation(n, 99u + static_cast<uint32_t>(n))
                                            : permutation(n, 0);  // seed 0: a fixed shuffle too
  std::vector<std::vector<int>> groups;
  for (int i = 0; i < n; ++i) {
    if (i % g == 0) groups.emplace_back();
    groups.back().push_back(variant % 3 == 0 ? i : perm[static_cast<size_t>(i)]);
  }
  return groups;
}

struct Config {
  uint64_t count;
  int nchannels;
  uint64_t fifo;
  uint64_t chunk;
};

std::vector<Config> configsFor(Collective c, int n) {
  const std::vector<uint64_t> counts = countsFor(c, n);
  const std::vector<int> channels =
      c == Collective::kBarrier ? std::vector<int>{1} : std::vector<int>{1, 2, 4};
  std::vector<uint64_t> fifos = {2, 7, uint64_t{1} << 16};
  if (n > 8) fifos = {2, uint64_t{1} << 16};
  std::vector<Config> out;
  size_t i = 0;
  for (uint64_t count : counts) {
    for (int ch : channels) {
      for (uint64_t f : fifos) {
        // Every third configuration caps messages at 3 elements (the tuner's chunk).
        out.push_back({count, ch, f, (i++ % 3 == 1 && f > 6) ? 3u : 0u});
      }
    }
  }
  if (n > 128) {  // large N: spread the configurations, cheapest first within each count
    std::vector<Config> picked;
    for (size_t k = 0; k < out.size(); k += 3) picked.push_back(out[k]);
    out = picked;
  }
  return out;
}

// What verifying one rank's plan costs, in steps: every step, and every 8 elements a step moves.
uint64_t cost(const Plan& p) {
  uint64_t c = 0;
  for (const Channel& ch : p.channels) {
    for (const Step& s : ch.steps) c += 1 + s.count() / 8;
  }
  return c;
}

uint64_t budgetFor(int n) {
  return n <= 8 ? UINT64_MAX : n <= 33 ? 40000 : n <= 128 ? 300000 : 350000;
}
uint64_t capFor(int n) {
  return n <= 8 ? UINT64_MAX : n <= 33 ? 25000 : n <= 128 ? 150000 : 350000;
}

class AlgorithmMatrix : public ::testing::TestWithParam<Case> {};

TEST_P(AlgorithmMatrix, Verifies) {
  const Case tc = GetParam();
  const AlgorithmInfo& algo = algorithmTable()[tc.algo];
  const int n = tc.nranks;
  uint64_t spent = 0;
  size_t ran = 0, variant = 0;
  std::vector<std::pair<uint64_t, BuildRequest>> skipped;
  for (const Config& cfg : configsFor(algo.collective, n)) {
    BuildRequest q;
    q.collective = algo.collective;
    q.nranks = n;
    q.count = cfg.count;
    q.nchannels = cfg.nchannels;
    q.fifoElems = cfg.fifo;
    q.chunkElems = cfg.chunk;
    q.root = cfg.nchannels == 4 ? n - 1 : n / 3;
    if (std::string(algo.name) == "hier") q.groups = groupsFor(n, variant++);
    const uint64_t estimate = cost(algo.build(q)) * static_cast<uint64_t>(n);
    if (estimate > capFor(n) || spent + estimate > budgetFor(n)) {
      skipped.push_back({estimate, q});
      continue;
    }
    spent += estimate;
    if (cfg.count > 0) ++ran;
    const VerifyReport report = verifyBuilder(algo.build, q);
    ASSERT_TRUE(report.ok) << algo.name << " " << collectiveName(algo.collective) << " n=" << n
                           << " count=" << cfg.count << " channels=" << cfg.nchannels
                           << " fifo=" << cfg.fifo << " chunk=" << cfg.chunk << ":\n"
                           << report.text();
  }
  if (ran == 0 && algo.collective != Collective::kBarrier && !skipped.empty()) {
    // Always verify at least the cheapest configuration with data.
    auto cheapest =
        std::min_element(skipped.begin(), skipped.end(), [](const auto& a, const auto& b) {
          return (a.second.count == 0) != (b.second.count == 0) ? a.second.count != 0
                                                                : a.first < b.first;
        });
    const VerifyReport report = verifyBuilder(algo.build, cheapest->second);
    ASSERT_TRUE(report.ok) << algo.name << " n=" << n << " count=" << cheapest->second.count
                           << ":\n"
                           << report.text();
  }
}

std::vector<Case> allCases() {
  std::vector<int> sizes;
  for (int n = 1; n <= 33; ++n) sizes.push_back(n);
  for (int n : {64, 127, 128, 255, 576, 1000}) sizes.push_back(n);
  std::vector<Case> cases;
  for (size_t a = 0; a < algorithmTable().size(); ++a) {
    if (isRing(algorithmTable()[a])) continue;
    for (int n : sizes) cases.push_back({a, n});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllRanks, AlgorithmMatrix, ::testing::ValuesIn(allCases()), caseName);

}  // namespace
}  // namespace plexus::algo
