// Ranks started by a launcher: plexus-run (PLEXUS_RANK, PLEXUS_WORLD_SIZE, PLEXUS_COMM_ID,
// PLEXUS_SECRET), torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), Open MPI
// (OMPI_COMM_WORLD_*) and Slurm (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID). See
// docs/launching.md for how each finds the bootstrap root.
#pragma once

#include <optional>
#include <string>

#include "runtime/unique_id.hpp"

namespace plexus::runtime {

struct LaunchEnv {
  std::string launcher;  // "plexus-run", "torchrun", "Open MPI", "Slurm"
  int rank = 0;
  int size = 1;
  int localRank = 0;
  // host:port of the bootstrap root (rank 0 starts it); "" only from detectLaunchEnv(false)
  std::string rootAddress;
  // Where rootAddress came from: "variables" (PLEXUS_COMM_ID, MASTER_ADDR/MASTER_PORT), "Slurm
  // node list", "job id on loopback" (every rank on this host), "single rank", or "" (none).
  std::string rootSource;
  bool allLocal = false;  // the launcher says every rank runs on this host
  Secret secret{};
};

// nullopt when no launcher variables are set. Throws Error(kInvalidArgument) when they are set
// but incomplete or inconsistent (the message names the variables), and, with `requireRoot`, when
// no root address is set or derivable: the message names the launcher and the variables to set.
// The root: PLEXUS_COMM_ID or MASTER_ADDR/MASTER_PORT; else under Slurm the first node of the
// step; else, when the launcher says all ranks are on this host (OMPI_COMM_WORLD_LOCAL_SIZE,
// SLURM_STEP_NUM_NODES / SLURM_NNODES, LOCAL_WORLD_SIZE, PLEXUS_LOCAL_SIZE), 127.0.0.1 and a port
// derived from the launcher's job id; a single rank: a root of its own.
std::optional<LaunchEnv> detectLaunchEnv(bool requireRoot = true);

// The root address a launcher environment implies, or "" when none: PLEXUS_COMM_ID, then
// MASTER_ADDR:(MASTER_PORT+1).
std::string rootAddressFromEnv();

}  // namespace plexus::runtime
