// The perf tools without MPI (PLEXUS_PERF_MPI=OFF, or no MPI found): see mpi_session.hpp.
#include "common/mpi_session.hpp"

namespace plexus::perf {

std::unique_ptr<MpiSession> startMpi(ProcessPlacement&) {
  return nullptr;
}

bool builtWithMpi() {
  return false;
}

}  // namespace plexus::perf
