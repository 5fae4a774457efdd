// Reproducible mode (algorithms/canonical.hpp): the canonical tree and its schedule, the
// verifier's order check on every builder the mode offers (N up to 576) and on builders it does
// not offer (the check must be able to fail), and the tuner's choice among offered algorithms.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "algorithms/canonical.hpp"
#include "algorithms/registry.hpp"
#include "algorithms/tuner.hpp"
#include "algorithms/verifier.hpp"

namespace plexus::algo {
namespace {

// The canonical tree over [lo, hi) as text: "((0+1)+(2+3))+4".
std::string treeText(int lo, int hi) {
  if (hi - lo == 1) return std::to_string(lo);
  const int mid = canonicalSplit(lo, hi);
  auto side = [](int a, int b) {
    const std::string t = treeText(a, b);
    return b - a == 1 ? t : "(" + t + ")";
  };
  return side(lo, mid) + "+" + side(mid, hi);
}

// Evaluates a schedule as text, the way Accumulate runs it.
std::string scheduleText(int n, int own) {
  const CanonicalSchedule s = canonicalSchedule(n, own);
  std::vector<std::string> v(s.ops.size());
  auto wrap = [](const std::string& t) {
    return t.find('+') == std::string::npos ? t : "(" + t + ")";
  };
  for (size_t i = 0; i < s.ops.size(); ++i) {
    const CanonicalOp& op = s.ops[i];
    if (op.leaf < 0) {
      v[i] = wrap(v[static_cast<size_t>(op.a)]) + "+" + wrap(v[static_cast<size_t>(op.b)]);
    } else if (op.a >= 0) {
      v[i] = wrap(v[static_cast<size_t>(op.a)]) + "+" + std::to_string(op.leaf);
    } else {
      v[i] = std::to_string(op.leaf);
    }
  }
  return v.back();
}

TEST(Reproducible, CanonicalTree) {
  EXPECT_EQ(treeText(0, 1), "0");
  EXPECT_EQ(treeText(0, 2), "0+1");
  EXPECT_EQ(treeText(0, 3), "(0+1)+2");
  EXPECT_EQ(treeText(0, 5), "((0+1)+(2+3))+4");
  EXPECT_EQ(treeText(0, 6), "((0+1)+(2+3))+(4+5)");
  EXPECT_EQ(treeText(0, 7), "((0+1)+(2+3))+((4+5)+6)");
  for (int n : {1, 2, 3, 5, 7, 8, 13, 64, 100}) {
    for (int own : {0, n / 2, n - 1}) {
      EXPECT_EQ(scheduleText(n, own), treeText(0, n)) << "n=" << n << " own=" << own;
      EXPECT_LE(canonicalSchedule(n, own).slots,
                2 + static_cast<int>(std::bit_width(static_cast<unsigned>(n))));
    }
  }
}

bool offered(const AlgorithmInfo& i) {
  return reproducibleCollective(i.collective) && i.reproducible;
}

VerifyReport verifyOrder(const AlgorithmInfo& info, int n, uint64_t count, int nch, uint64_t fifo,
                         int root = 0) {
  BuildRequest r;
  r.collective = info.collective;
  r.nranks = n;
  r.count = count;
  r.nchannels = nch;
  r.fifoElems = fifo;
  r.root = root;
  if (std::string(info.name) == "hier") r.groups = contiguousGroups(n, n % 2 == 0 ? 2 : 1);
  VerifyOptions o;
  o.checkOrder = true;
  return verifyBuilder(info.build, r, o);
}

// Every offered builder of every reducing collective follows the canonical order, for several
// channel counts, FIFO sizes (pieces), counts and roots, at N = 1, 2, 3, 5, 8, 13, 64 and 576.
TEST(Reproducible, VerifierOrderOfOfferedBuilders) {
  int checked = 0;
  for (const AlgorithmInfo& info : algorithmTable()) {
    if (!offered(info)) continue;
    for (int n : {1, 2, 3, 5, 8, 13, 64, 576}) {
      const bool big = n > 64;
      for (uint64_t count : big ? std::vector<uint64_t>{3} : std::vector<uint64_t>{1, 7, 40}) {
        for (int nch : big ? std::vector<int>{2} : std::vector<int>{1, 3}) {
          for (uint64_t fifo : big ? std::vector<uint64_t>{0} : std::vector<uint64_t>{0, 6}) {
            const int root = info.collective == Collective::kReduce ? n / 2 : 0;
            const VerifyReport rep = verifyOrder(info, n, count, nch, fifo, root);
            ASSERT_TRUE(rep.ok) << info.name << " " << collectiveName(info.collective) << " n=" << n
                                << " count=" << count << " nch=" << nch << " fifo=" << fifo << ":\n"
                                << rep.text();
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GE(checked, 5 * 8);
}

// The order check can fail: builders the mode does not offer hold every contribution once (the
// plain verifier passes them) but in another order.
TEST(Reproducible, VerifierRejectsOtherOrders) {
  for (const AlgorithmInfo& info : algorithmTable()) {
    if (!reproducibleCollective(info.collective) || info.reproducible) continue;
    bool rejected = false;
    for (int n : {4, 5, 6}) {
      const VerifyReport rep = verifyOrder(info, n, 24, 1, 0, 1);
      if (!rep.ok) {
        EXPECT_NE(rep.text().find("not combined in the canonical order"), std::string::npos)
            << rep.text();
        rejected = true;
      }
    }
    EXPECT_TRUE(rejected) << info.name << " " << collectiveName(info.collective)
                          << " follows the canonical order: offer it in reproducible mode";
  }
}

TEST(Reproducible, TunerPicksOfferedAlgorithmsOnly) {
  const TopologyCosts shm = TopologyCosts::sharedMemoryHost();
  for (Collective c : {Collective::kAllReduce, Collective::kReduceScatter, Collective::kReduce}) {
    for (uint64_t count : {uint64_t{1}, uint64_t{1} << 10, uint64_t{1} << 24}) {
      TuneRequest q;
      q.collective = c;
      q.nranks = 8;
      q.count = count;
      q.fifoElems = 1 << 16;
      q.reproducible = true;
      const TuneResult r = evaluate(q, shm);
      EXPECT_TRUE(r.warning.empty()) << r.warning;
      const AlgorithmInfo* info = findAlgorithm(c, r.best.algorithm);
      ASSERT_NE(info, nullptr) << r.best.algorithm;
      EXPECT_TRUE(info->reproducible) << r.best.algorithm << " " << collectiveName(c);
    }
  }
  // Forcing an algorithm the mode does not offer: a warning and an offered one.
  TuneRequest q;
  q.nranks = 4;
  q.count = 1 << 20;
  q.fifoElems = 1 << 16;
  q.reproducible = true;
  const TuneResult r = evaluate(q, shm, AlgoFilter::parse("allreduce:ring"));
  EXPECT_NE(r.warning.find("ring: not offered in reproducible mode"), std::string::npos)
      << r.warning;
  EXPECT_TRUE(findAlgorithm(Collective::kAllReduce, r.best.algorithm)->reproducible);
  // Collectives that do not reduce are unaffected.
  q.collective = Collective::kAllGather;
  EXPECT_TRUE(evaluate(q, shm, AlgoFilter::parse("allgather:ring")).best.algorithm == "ring");
}

}  // namespace
}  // namespace plexus::algo
