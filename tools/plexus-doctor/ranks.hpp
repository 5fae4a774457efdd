// Under a launcher (plexus-run, torchrun, Open MPI, Slurm: runtime/launch_env.hpp): a short
// bootstrap between the ranks, the library's own, to check that they reach each other, a clock
// comparison, and the all-gather of every rank's results so that rank 0 prints one report.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "report.hpp"

namespace plexus::runtime {
class Bootstrap;
}

namespace plexus::tools::doctor {

struct LaunchInfo {
  int rank = 0;
  int size = 1;
  int localSize = 0;     // ranks of the job on this host, 0 when the launcher does not say
  std::string launcher;  // "plexus-run", ...
  std::string root;      // bootstrap root host:port
  std::string error;     // the launcher's variables are inconsistent: what is wrong
};

// nullopt when no launcher started this process (or it started one rank only).
std::optional<LaunchInfo> detectLaunch();

struct RanksOutcome {
  std::vector<RankedResult> report;  // rank 0: every rank's results merged; others: their own
  bool reached = false;              // the bootstrap worked (else each rank reports alone)
  // Call after printing: a last barrier, so that no rank exits (and makes the launcher stop the
  // others) before rank 0 has printed the report.
  void finish();
  std::shared_ptr<runtime::Bootstrap> bootstrap;
  double timeoutSeconds = 60;
};

// Runs the bootstrap, the reachability and clock checks, and gathers `mine` to rank 0.
RanksOutcome runAcrossRanks(const LaunchInfo& launch, std::vector<Result> mine,
                            double timeoutSeconds);

}  // namespace plexus::tools::doctor
