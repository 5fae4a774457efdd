// The perf tools' driver, shared by every <collective>_perf: parses the nccl-tests flags, finds
// this process's ranks (placement.hpp), creates the communicators, runs the sweep (warm-up, timed
// iterations, correctness check), aggregates the results across ranks with ncclAllReduce, and
// prints the nccl-tests table on global rank 0. Uses only the public API (plexus/nccl.h).
//
// Communicators: a single process creates all its ranks with ncclCommInitAll; with several
// processes every process calls ncclGetUniqueId (which gives the same id on every rank when the
// launcher sets PLEXUS_COMM_ID) and each local rank calls ncclCommInitRank from its own thread.
// A thread that drives several ranks (-g) wraps their calls in ncclGroupStart/ncclGroupEnd.
#pragma once

#include <cstdio>
#include <string>

#include "common/collectives.hpp"
#include "common/options.hpp"
#include "common/placement.hpp"

namespace plexus::perf {

// What a tool's main calls. Returns the process exit code: 0 when every result was right,
// 1 on wrong results or a failed call, 2 on a usage error.
int perfMain(int argc, char** argv, const Collective& collective);

// The same with parsed options and a known placement, writing to the given streams (tests).
int runPerf(const Collective& collective, const Options& options, const ProcessPlacement& placement,
            std::FILE* out, std::FILE* err);

}  // namespace plexus::perf
