// Every ring builder verified symbolically (both placements) for N = 1..33, 64, 127, 128, 255,
// 576 and 1000 ranks, over counts (0, 1, N-1, N, a prime, a large one), channel counts {1, 2, 4}
// with ring orders of their own, and FIFO sizes that force one-element messages or allow large
// ones. N <= 12: the full cross product with FIFOs of 2, 7 and 65536 elements; N <= 128: FIFOs
// of 2 and 65536; N = 255, 576, 1000: a hand-picked set covering every count (all-gather and
// reduce-scatter: per-rank counts 0..3), every channel count and every FIFO size, each a few
// million steps at most.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "algorithms/builders.hpp"
#include "algorithms/verifier.hpp"

namespace plexus::algo {
namespace {

struct MatrixCase {
  Collective collective;
  int nranks;
};

std::string caseName(const ::testing::TestParamInfo<MatrixCase>& info) {
  return std::string(collectiveName(info.param.collective)) + "_" +
         std::to_string(info.param.nranks);
}

// A deterministic permutation of 0..n-1 (own Fisher-Yates: std::shuffle is not portable).
std::vector<int> permutation(int n, uint32_t seed) {
  std::vector<int> p(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  std::mt19937 rng(seed);
  for (int i = n - 1; i > 0; --i) {
    std::swap(p[static_cast<size_t>(i)], p[rng() % static_cast<uint32_t>(i + 1)]);
  }
  return p;
}

bool isPrime(uint64_t x) {
  if (x < 2) return false;
  for (uint64_t d = 2; d * d <= x; ++d) {
    if (x % d == 0) return false;
  }
  return true;
}
uint64_t primeAtLeast(uint64_t x) {
  while (!isPrime(x)) ++x;
  return x;
}

// Counts for a collective at n ranks: 0, 1, N-1, N, a prime, and a large one that still forces
// many iterations with one-element messages. All-gather and reduce-scatter counts are per rank
// (NCCL), so every rank's buffers hold n * count elements and a ring moves n^2 * count elements
// in all: their counts are capped to keep that small, and N-1, N are used up to 33 ranks.
std::vector<uint64_t> countsFor(Collective c, int n) {
  const uint64_t un = static_cast<uint64_t>(n);
  std::vector<uint64_t> counts = {0, 1};
  if (c == Collective::kAllGather || c == Collective::kReduceScatter) {
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

struct Config {
  uint64_t count;
  int nchannels;
  uint64_t fifo;
};

std::vector<Config> configsFor(Collective c, int n) {
  const std::vector<uint64_t> counts = countsFor(c, n);
  const int channels[] = {1, 2, 4};
  const uint64_t fifos[] = {2, 7, uint64_t{1} << 16};
  std::vector<Config> out;
  if (n <= 12) {
    for (uint64_t count : counts) {
      for (int ch : channels) {
        for (uint64_t f : fifos) out.push_back({count, ch, f});
      }
    }
  } else if (n <= 128) {
    for (uint64_t count : counts) {
      for (int ch : channels) {
        out.push_back({count, ch, fifos[0]});
        out.push_back({count, ch, fifos[2]});
      }
    }
  } else {
    // Hand-picked: every count once, each channel count and FIFO size several times, and the
    // largest count with one-element messages on several channels. A ring iteration costs about
    // 2 * n^2 steps here, so these stay within a few million steps each.
    const uint64_t big = fifos[2];
    if (c == Collective::kAllGather || c == Collective::kReduceScatter) {
      out = {{0, 1, 2}, {1, 2, 7}, {2, 4, big}, {3, 2, 7}};
      if (n < 576) out.push_back({2, 1, 2});  // n^2 one-element messages: seconds at 1000
    } else {
      out = {{counts[0], 1, 2}, {counts[1], 2, 7}, {counts[2], 4, big},
             {counts[3], 2, 2}, {counts[4], 1, 7}, {counts[5], 1, big}};
      if (c != Collective::kAllReduce) out.push_back({counts[5], 4, 2});
    }
  }
  return out;
}

class RingMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(RingMatrix, Verifies) {
  const MatrixCase mc = GetParam();
  const int n = mc.nranks;
  for (const Config& cfg : configsFor(mc.collective, n)) {
    BuildRequest q;
    q.collective = mc.collective;
    q.nranks = n;
    q.count = cfg.count;
    q.nchannels = cfg.nchannels;
    q.fifoElems = cfg.fifo;
    q.root = cfg.nchannels == 4 ? n - 1 : n / 3;
    if (cfg.nchannels == 2) {
      q.rings = {permutation(n, 17u * static_cast<uint32_t>(n) + 1),
                 permutation(n, 31u * static_cast<uint32_t>(n) + 5)};
    } else if (cfg.nchannels == 4) {
      q.rings = {permutation(n, 7u * static_cast<uint32_t>(n) + 3)};
    }
    const VerifyReport report = verifyBuilder(buildRing, q);
    ASSERT_TRUE(report.ok) << collectiveName(mc.collective) << " n=" << n << " count=" << cfg.count
                           << " channels=" << cfg.nchannels << " fifo=" << cfg.fifo << ":\n"
                           << report.text();
  }
}

std::vector<MatrixCase> allCases() {
  std::vector<int> sizes;
  for (int n = 1; n <= 33; ++n) sizes.push_back(n);
  for (int n : {64, 127, 128, 255, 576, 1000}) sizes.push_back(n);
  std::vector<MatrixCase> cases;
  for (Collective c : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                       Collective::kBroadcast, Collective::kReduce}) {
    for (int n : sizes) cases.push_back({c, n});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllRanks, RingMatrix, ::testing::ValuesIn(allCases()), caseName);

}  // namespace
}  // namespace plexus::algo
