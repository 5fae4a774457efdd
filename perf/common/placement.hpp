// Where this process sits in the job: its process rank and the number of processes, from the
// launcher's environment (first match wins): PLEXUS_RANK/PLEXUS_WORLD_SIZE (plexus-run),
// OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE (Open MPI), SLURM_PROCID/SLURM_NTASKS (Slurm),
// RANK/WORLD_SIZE (torchrun); none of them: a single process. With -t and -g each process holds
// nThreads * nGpus ranks: global rank = process * nThreads * nGpus + thread * nGpus + index.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "plexus/nccl.h"

namespace plexus::perf {

struct ProcessPlacement {
  int rank = 0;
  int size = 1;
  std::string source = "single process";  // which variables gave it, for messages
  // How the processes get one unique id, called by every process: empty, each derives it from
  // the launcher's environment (plexusGetUniqueIdFromEnv); under MPI (perf/common/mpi_session.hpp)
  // rank 0 makes it and MPI_Bcast ships it.
  std::function<ncclResult_t(ncclUniqueId&)> shareId;
};

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// The process environment (std::getenv; empty values count as unset).
std::optional<std::string> processEnv(const char* name);

// Throws std::runtime_error naming the variables when they are set but malformed or
// inconsistent (rank outside [0, size), size without rank, ...).
ProcessPlacement detectPlacement(const EnvLookup& env = processEnv);

// This process's index among the processes of its host, from PLEXUS_LOCAL_RANK (plexus-run),
// OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID or LOCAL_RANK (first set wins); nullopt when none is
// set or the value is not a number. On device buffers it picks the CUDA devices of the ranks.
std::optional<int> detectLocalRank(const EnvLookup& env = processEnv);

}  // namespace plexus::perf
