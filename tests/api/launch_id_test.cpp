// Unique ids under a launcher (docs/launching.md): ncclGetUniqueId never leaves a rank other than 0
// waiting for a root nobody starts, and plexusGetUniqueIdFromEnv derives one id on every rank or
// fails at once naming the launcher and the variables to set.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <string>

#include "../common/env_guard.hpp"
#include "plexus/launch.h"
#include "plexus/nccl.h"

namespace {

std::string lastError() {
  const char* e = ncclGetLastError(nullptr);
  return e != nullptr ? e : "";
}

class LaunchId : public ::testing::Test {
 protected:
  plexus::test::EnvGuard env_{"PLEXUS_COMM_ID",
                              "PLEXUS_SECRET",
                              "PLEXUS_RANK",
                              "MASTER_ADDR",
                              "MASTER_PORT",
                              "RANK",
                              "SLURM_PROCID",
                              "OMPI_COMM_WORLD_RANK",
                              "OMPI_COMM_WORLD_SIZE",
                              "OMPI_COMM_WORLD_LOCAL_SIZE",
                              "OMPI_MCA_ess_base_jobid",
                              "OMPI_MCA_orte_ess_jobid",
                              "PMIX_NAMESPACE"};
  void openMpi(int rank, int size, int localSize) {
    setenv("OMPI_COMM_WORLD_RANK", std::to_string(rank).c_str(), 1);
    setenv("OMPI_COMM_WORLD_SIZE", std::to_string(size).c_str(), 1);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(localSize).c_str(), 1);
    setenv("OMPI_MCA_ess_base_jobid", "31337", 1);
  }
};

TEST_F(LaunchId, OnSeveralHostsWithoutAnAddressOnlyRankZeroMakesARoot) {
  openMpi(1, 4, 2);
  ncclUniqueId id;
  EXPECT_EQ(ncclGetUniqueId(&id), ncclInvalidArgument);
  EXPECT_NE(lastError().find("Open MPI started this process as rank 1 of 4"), std::string::npos)
      << lastError();
  EXPECT_NE(lastError().find("PLEXUS_COMM_ID=host:port"), std::string::npos) << lastError();
  EXPECT_EQ(plexusGetUniqueIdFromEnv(&id), ncclInvalidArgument);
  // Rank 0 may ship its id itself (the NCCL way): it gets a root of its own...
  openMpi(0, 4, 2);
  EXPECT_EQ(ncclGetUniqueId(&id), ncclSuccess) << lastError();
  // ...but cannot derive one every rank would find.
  EXPECT_EQ(plexusGetUniqueIdFromEnv(&id), ncclInvalidArgument);
  EXPECT_NE(lastError().find("several hosts (OMPI_COMM_WORLD_LOCAL_SIZE=2)"), std::string::npos)
      << lastError();
}

TEST_F(LaunchId, OnOneHostEveryRankDerivesTheSameId) {
  ncclUniqueId first, other;
  openMpi(0, 3, 3);
  ASSERT_EQ(plexusGetUniqueIdFromEnv(&first), ncclSuccess) << lastError();
  for (int r = 0; r < 3; ++r) {
    openMpi(r, 3, 3);
    ASSERT_EQ(plexusGetUniqueIdFromEnv(&other), ncclSuccess) << lastError();
    EXPECT_EQ(std::memcmp(first.internal, other.internal, sizeof(first.internal)), 0) << r;
    // ncclGetUniqueId derives the same id (no root of its own on any rank).
    ASSERT_EQ(ncclGetUniqueId(&other), ncclSuccess) << lastError();
    EXPECT_EQ(std::memcmp(first.internal, other.internal, sizeof(first.internal)), 0) << r;
  }
}

TEST_F(LaunchId, WithoutALauncherFromEnvSaysSo) {
  ncclUniqueId id;
  EXPECT_EQ(plexusGetUniqueIdFromEnv(&id), ncclInvalidUsage);
  EXPECT_NE(lastError().find("no launcher environment"), std::string::npos) << lastError();
  EXPECT_EQ(plexusGetUniqueIdFromEnv(nullptr), ncclInvalidArgument);
}

}  // namespace
