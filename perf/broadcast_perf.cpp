// broadcast_perf: nccl-tests-compatible benchmark of broadcast over Plexus (flags, output and
// checks are the shared driver's: perf/common/runner.hpp, perf/README.md).
#include "common/runner.hpp"

int main(int argc, char** argv) {
  return plexus::perf::perfMain(argc, argv, plexus::perf::kBroadcast);
}
