// perf/compare peer driver: MPI_Allreduce (fp32 sum) under Open MPI, timed and checked like
// all_reduce_perf (see driver_common.hpp). Run under mpirun; compare.py builds it with mpicxx.
#define OMPI_SKIP_MPICXX 1  // the C API only
#include <mpi.h>

#include "driver_common.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  compare::Options o;
  std::vector<std::string> rest;
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  if (!compare::parseOptions(argc, argv, o, rest) || !rest.empty()) {
    if (!rest.empty()) std::fprintf(stderr, "%s: unknown option %s\n", argv[0], rest[0].c_str());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  compare::Backend be;
  be.rank = rank;
  be.nranks = nranks;
  be.name = "mpi";
  be.allReduce = [](const float* in, float* out, size_t count) {
    const void* src = in == out ? MPI_IN_PLACE : in;
    MPI_Allreduce(src, out, static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  };
  be.barrier = [] { MPI_Barrier(MPI_COMM_WORLD); };
  be.maxOverRanks = [](double v) {
    double r = 0;
    MPI_Allreduce(&v, &r, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return r;
  };
  be.sumOverRanks = [](double v) {
    double r = 0;
    MPI_Allreduce(&v, &r, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return r;
  };
  int status = 0;
  try {
    status = compare::runSweep(be, o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi driver rank %d: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return status;
}
