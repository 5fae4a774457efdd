// Runs a test body as N rank processes (fork): rank 0 makes the unique id with ncclGetUniqueId
// and shares it through anonymous shared memory; every rank's stderr is captured; the whole run is
// bounded by a timeout after which all ranks are killed.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "plexus/nccl.h"

namespace plexus::testing {

struct RankOutcome {
  int exitCode = -1;   // exit status, or 128 + signal
  std::string output;  // what the rank wrote to stderr/stdout
};

struct RunOptions {
  std::map<std::string, std::string> env;  // set in every rank before the body runs
  int timeoutSeconds = 120;
  bool rank0MakesId = true;  // otherwise the body gets a zeroed id
};

using RankBody = std::function<int(int rank, int nranks, const ncclUniqueId& id)>;

std::vector<RankOutcome> runRanks(int nranks, const RankBody& body, const RunOptions& options = {});

// A loopback TCP port nobody listens on right now (bound once with port 0, then released): for a
// bootstrap root that no rank will start.
int freeLoopbackPort();

// "rank 2 exited with 1:\n<output>" for every failed rank; "" when all exited 0.
std::string describeFailures(const std::vector<RankOutcome>& outcomes);

// Prints to stderr and returns 1 if the condition is false (for use inside rank bodies).
#define RANK_CHECK(cond, ...)                                                      \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "CHECK FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                           \
      std::fprintf(stderr, "\n");                                                  \
      return 1;                                                                    \
    }                                                                              \
  } while (0)

#define RANK_NCCL(call)                                                             \
  do {                                                                              \
    ncclResult_t r_ = (call);                                                       \
    if (r_ != ncclSuccess) {                                                        \
      std::fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call, \
                   ncclGetErrorString(r_), ncclGetLastError(nullptr));              \
      return 1;                                                                     \
    }                                                                               \
  } while (0)

}  // namespace plexus::testing
