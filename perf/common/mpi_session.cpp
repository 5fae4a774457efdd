// The perf tools with MPI: see mpi_session.hpp.
#include "common/mpi_session.hpp"

#define OMPI_SKIP_MPICXX 1  // the C API only
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace plexus::perf {
namespace {

bool launchedByMpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (processEnv(name)) return true;
  return false;
}

class Session : public MpiSession {
 public:
  ~Session() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(nullptr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; if it did, end anyway
  }
};

// Rank 0 makes the id (ncclGetUniqueId) and broadcasts it with its result, so that a failure on
// rank 0 fails every rank instead of leaving them waiting.
ncclResult_t shareIdOverMpi(ncclUniqueId& id) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  struct {
    int result;
    ncclUniqueId id;
  } msg{};
  if (rank == 0) {
    msg.result = static_cast<int>(ncclGetUniqueId(&msg.id));
  }
  if (MPI_Bcast(&msg, sizeof(msg), MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
    return ncclSystemError;
  id = msg.id;
  if (rank != 0 && msg.result != ncclSuccess) return ncclRemoteError;  // rank 0 says why
  return static_cast<ncclResult_t>(msg.result);
}

}  // namespace

std::unique_ptr<MpiSession> startMpi(ProcessPlacement& where) {
  if (!launchedByMpi()) return nullptr;
  if (MPI_Init(nullptr, nullptr) != MPI_SUCCESS)
    throw std::runtime_error("MPI_Init failed under an MPI launcher");
  auto session = std::make_unique<Session>();
  MPI_Comm_rank(MPI_COMM_WORLD, &where.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &where.size);
  where.source = "MPI (MPI_COMM_WORLD rank " + std::to_string(where.rank) + " of " +
                 std::to_string(where.size) + "; the unique id by MPI_Bcast)";
  where.shareId = shareIdOverMpi;
  return session;
}

bool builtWithMpi() {
  return true;
}

}  // namespace plexus::perf
