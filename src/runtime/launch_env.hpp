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
  std::string rootAddress;  // host:port of the bootstrap root (rank 0 starts it)
  Secret secret{};
};

// nullopt when no launcher variables are set. Throws Error(kInvalidArgument) when they are set
// but incomplete or inconsistent (the message names the variables).
std::optional<LaunchEnv> detectLaunchEnv();

// The root address a launcher environment implies, or "" when none: PLEXUS_COMM_ID, then
// MASTER_ADDR:(MASTER_PORT+1).
std::string rootAddressFromEnv();

}  // namespace plexus::runtime
