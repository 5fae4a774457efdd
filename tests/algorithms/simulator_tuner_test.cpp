// Issue 14 B3: the tuner agrees with the simulator. On a grid of systems, collectives and sizes,
// every runnable candidate is simulated with the tuner's own setting for it (channels, chunk), and
// the tuner's pick must be the simulator's fastest candidate or within kNearTie of it (the cost
// model and the simulator share their figures and the plans' step structure, not every detail
// of contention, so picks closer than that are ties).
//
// Known exceptions (kExceptions), each bounded: exchange-style plans whose ranks run different
// numbers of steps per round (Bruck's runs that wrap past the last block are two ranges; the
// folded ranks of recursive halving on a non-power of two) misalign the step indices of the
// ranks, and the simulator takes the messages at one step index as in flight together, so it
// charges contention between messages of different rounds that never overlap. The tuner's model
// does not follow it there (docs/simulator.md, "The tuner against the simulator").
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "algorithms/simulator.hpp"
#include "algorithms/topology_costs.hpp"
#include "algorithms/tuner.hpp"
#include "topology/synthetic.hpp"

namespace plexus::algo {
namespace {

constexpr double kNearTie = 1.05;

struct Exception {
  const char* spec;
  Collective collective;
  uint64_t bytes;
  double bound;  // the pick's simulated time is at most this times the simulator's best
};
constexpr Exception kExceptions[] = {
    {"gb200-nvl72", Collective::kAllGather, uint64_t{8} << 20, 1.35},  // bruck vs ring
    {"nvl576", Collective::kReduceScatter, uint64_t{8} << 20, 1.15},   // rechalving vs ring
};

double allowedRatio(const char* spec, Collective coll, uint64_t bytes) {
  for (const Exception& e : kExceptions) {
    if (std::string(e.spec) == spec && e.collective == coll && e.bytes == bytes) return e.bound;
  }
  return kNearTie;
}

struct GridSystem {
  const char* spec;
  int nranks;                   // 0: one per GPU
  std::vector<uint64_t> sizes;  // call bytes
};

std::vector<uint64_t> sizesBy16(uint64_t lo, uint64_t hi) {
  std::vector<uint64_t> out;
  for (uint64_t b = lo; b <= hi; b *= 16) out.push_back(b);
  if (out.back() != hi) out.push_back(hi);
  return out;
}

struct Tally {
  int agree = 0, nearTie = 0, known = 0, total = 0;
  double worst = 1;
};

// One grid point: the tuner's pick against every simulated candidate.
void checkPoint(const topo::System& sys, const char* spec, int n, Collective coll, uint64_t bytes,
                Tally& tally) {
  TuneRequest q;
  q.collective = coll;
  q.nranks = n;
  q.groups = groupsFromSystem(sys, n);
  q.fifoElems = (4u << 20) / 4;
  const bool perRank = callBytes(coll, n, 1, 1) > 1;
  q.count = perRank ? bytes / 4 / static_cast<uint64_t>(n) : bytes / 4;
  if (q.count == 0) return;
  const TuneResult tr = evaluate(q, costsFromSystem(sys, n));
  SimCall call;
  call.collective = coll;
  call.nranks = n;
  call.count = q.count;
  std::string best;
  double bestUs = INFINITY, pickUs = INFINITY;
  for (const Candidate& c : tr.candidates) {
    if (!c.runnable) continue;
    call.algorithm = c.algorithm;
    const double t = simulate(sys, call).timeUs;
    ASSERT_GT(t, 0) << spec << " " << c.algorithm;
    if (t < bestUs) {
      bestUs = t;
      best = c.algorithm;
    }
    if (c.algorithm == tr.best.algorithm) pickUs = t;
  }
  const double ratio = pickUs / bestUs;
  const double allowed = allowedRatio(spec, coll, bytes);
  ++tally.total;
  tally.agree += best == tr.best.algorithm ? 1 : 0;
  tally.nearTie += best != tr.best.algorithm && ratio <= kNearTie ? 1 : 0;
  tally.known += ratio > kNearTie && ratio <= allowed ? 1 : 0;
  tally.worst = std::max(tally.worst, ratio);
  std::printf("%-12s %4d %-13s %11llu B: tuner %-11s sim-best %-11s pick/best %.3f%s\n", spec, n,
              collectiveName(coll), static_cast<unsigned long long>(bytes),
              tr.best.algorithm.c_str(), best.c_str(), ratio,
              ratio > allowed    ? "  <-- disagrees"
              : ratio > kNearTie ? "  (known exception)"
                                 : "");
  EXPECT_LE(ratio, allowed) << spec << " " << n << " ranks, " << collectiveName(coll) << ", "
                            << bytes << " B: the tuner picks " << tr.best.algorithm
                            << ", the simulator finds " << best << " faster";
}

TEST(SimulatorTuner, AgreementOnAGrid) {
  // 8 B .. 1 GB by 16x (8 B, 128 B, .., 128 MB, 1 GB); nvl576 on 144 ranks (two of its NVL72-like
  // groups, across the upper switch tier) at three sizes, which keeps the test at seconds.
  const std::vector<uint64_t> full = sizesBy16(8, uint64_t{1} << 30);
  const std::vector<GridSystem> grid = {
      {"dgx-a100", 0, full},    {"dgx-h100", 0, full},
      {"gb200-nvl72", 0, full}, {"dgx-h100:x2", 0, full},
      {"dgx-h100:x4", 0, full}, {"nvl576", 144, {8, uint64_t{32} << 10, uint64_t{8} << 20}},
  };
  Tally tally;
  const auto t0 = std::chrono::steady_clock::now();
  for (const GridSystem& g : grid) {
    const topo::System sys = topo::makeSyntheticSystem(g.spec);
    const int n = simulatedRanks(sys, g.nranks);
    for (Collective coll :
         {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter}) {
      for (uint64_t bytes : g.sizes) checkPoint(sys, g.spec, n, coll, bytes, tally);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "tuner's pick = simulator's fastest in %d of %d points, within %.0f %% in %d more, %d known "
      "exceptions; worst ratio %.3f (%.1f s)\n",
      tally.agree, tally.total, (kNearTie - 1) * 100, tally.nearTie, tally.known, tally.worst,
      secs);
  RecordProperty("agree", tally.agree);
  RecordProperty("near_tie", tally.nearTie);
  RecordProperty("known_exceptions", tally.known);
  RecordProperty("total", tally.total);
}

}  // namespace
}  // namespace plexus::algo
