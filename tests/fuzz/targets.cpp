// The table of fuzz targets.
#include <cstdio>
#include <cstdlib>

#include "fuzz_targets.hpp"

namespace plexus::fuzz {

std::span<const Target> targets() {
  static constexpr Target kTargets[] = {
      {"bootstrap_root", bootstrapRoot},
      {"bootstrap_peer", bootstrapPeer},
      {"unique_id", uniqueId},
      {"nccl_xml", ncclXml},
      {"topology_json", topologyJson},
      {"plan_file", planFile},
      {"env", envVars},
      {"perf_options", perfOptions},
  };
  return kTargets;
}

void broken(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

}  // namespace plexus::fuzz
