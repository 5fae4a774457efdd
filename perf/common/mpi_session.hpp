// MPI for the perf tools (CMake PLEXUS_PERF_MPI, AUTO by default): under an MPI launcher the
// process rank and size come from MPI_COMM_WORLD and rank 0's unique id reaches the others by
// MPI_Bcast, as in nccl-tests' MPI build. A tool built without MPI (mpi_none.cpp) keeps the
// environment's placement, and every process derives the id (plexusGetUniqueIdFromEnv).
#pragma once

#include <memory>

#include "common/placement.hpp"

namespace plexus::perf {

// Ends MPI (MPI_Finalize) when destroyed.
class MpiSession {
 public:
  virtual ~MpiSession() = default;
  // A failed run: MPI_Abort, so that mpirun ends the ranks still waiting (as nccl-tests does).
  [[noreturn]] virtual void abort(int code) = 0;
};

// With MPI built in and an MPI launcher's variables present (OMPI_COMM_WORLD_SIZE, PMIX_RANK,
// PMI_RANK): initialises MPI and sets `where` (rank, size, source, shareId) from it. Otherwise
// nullptr and `where` unchanged. Throws std::runtime_error when MPI cannot start.
std::unique_ptr<MpiSession> startMpi(ProcessPlacement& where);

// Whether this tool was built with MPI (for its header line).
bool builtWithMpi();

}  // namespace plexus::perf
