// Issue 14 B3 (measurement only; the tuner is not changed here): on a grid of systems and sizes,
// is the tuner's pick the simulator's fastest candidate? The test prints the agreement and
// asserts only that every runnable candidate simulates and that the tuner's pick is never more
// than 4x slower in the simulator than the simulator's best.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "algorithms/simulator.hpp"
#include "algorithms/topology_costs.hpp"
#include "algorithms/tuner.hpp"
#include "topology/synthetic.hpp"

namespace plexus::algo {
namespace {

TEST(SimulatorTuner, AgreementOnAGrid) {
  int agree = 0, total = 0;
  double worst = 1;
  for (const char* spec : {"dgx-a100", "dgx-h100", "gb200-nvl72", "dgx-h100:x2"}) {
    const topo::System sys = topo::makeSyntheticSystem(spec);
    const int n = simulatedRanks(sys, 0);
    TuneRequest q;
    q.nranks = n;
    q.groups = groupsFromSystem(sys, n);
    q.fifoElems = (4u << 20) / 4;
    for (uint64_t bytes : {uint64_t{8}, uint64_t{64} << 10, uint64_t{1} << 20, uint64_t{16} << 20,
                           uint64_t{256} << 20}) {
      q.count = bytes / 4;
      const TuneResult tr = evaluate(q, costsFromSystem(sys, n));
      SimCall call;
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
      ++total;
      agree += best == tr.best.algorithm ? 1 : 0;
      worst = std::max(worst, pickUs / bestUs);
      std::printf("%-12s %10llu B: tuner %-10s sim-best %-10s (tuner's pick %.2fx the best)\n",
                  spec, static_cast<unsigned long long>(bytes), tr.best.algorithm.c_str(),
                  best.c_str(), pickUs / bestUs);
      EXPECT_LT(pickUs / bestUs, 4.0) << spec << " " << bytes;
    }
  }
  std::printf("tuner's pick = simulator's fastest in %d of %d points; worst ratio %.2f\n", agree,
              total, worst);
  RecordProperty("agree", agree);
  RecordProperty("total", total);
}

}  // namespace
}  // namespace plexus::algo
