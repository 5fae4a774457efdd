// Rank and world size of a perf process from the launcher's environment.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>

#include "common/placement.hpp"

namespace plexus::perf {
namespace {

EnvLookup fakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(PerfPlacement, SingleProcessWithoutLauncher) {
  ProcessPlacement p = detectPlacement(fakeEnv({}));
  EXPECT_EQ(p.rank, 0);
  EXPECT_EQ(p.size, 1);
}

TEST(PerfPlacement, LaunchersInOrderOfPrecedence) {
  std::map<std::string, std::string> env = {
      {"RANK", "4"},         {"WORLD_SIZE", "8"},           {"SLURM_PROCID", "3"},
      {"SLURM_NTASKS", "7"}, {"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "6"},
      {"PLEXUS_RANK", "1"},  {"PLEXUS_WORLD_SIZE", "5"}};
  ProcessPlacement p = detectPlacement(fakeEnv(env));
  EXPECT_EQ(p.rank, 1);
  EXPECT_EQ(p.size, 5);
  EXPECT_NE(p.source.find("PLEXUS_RANK="), std::string::npos);
  env.erase("PLEXUS_RANK");
  env.erase("PLEXUS_WORLD_SIZE");
  p = detectPlacement(fakeEnv(env));
  EXPECT_EQ(p.rank, 2);
  EXPECT_EQ(p.size, 6);
  env.erase("OMPI_COMM_WORLD_RANK");
  env.erase("OMPI_COMM_WORLD_SIZE");
  p = detectPlacement(fakeEnv(env));
  EXPECT_EQ(p.rank, 3);
  EXPECT_EQ(p.size, 7);
  env.erase("SLURM_PROCID");
  env.erase("SLURM_NTASKS");
  p = detectPlacement(fakeEnv(env));
  EXPECT_EQ(p.rank, 4);
  EXPECT_EQ(p.size, 8);
}

TEST(PerfPlacement, InconsistentVariablesAreErrors) {
  EXPECT_THROW(detectPlacement(fakeEnv({{"PLEXUS_RANK", "1"}})), std::runtime_error);
  EXPECT_THROW(detectPlacement(fakeEnv({{"WORLD_SIZE", "2"}})), std::runtime_error);
  EXPECT_THROW(detectPlacement(fakeEnv({{"RANK", "2"}, {"WORLD_SIZE", "2"}})), std::runtime_error);
  EXPECT_THROW(detectPlacement(fakeEnv({{"RANK", "x"}, {"WORLD_SIZE", "2"}})), std::runtime_error);
  EXPECT_THROW(detectPlacement(fakeEnv({{"RANK", "0"}, {"WORLD_SIZE", "0"}})), std::runtime_error);
}

TEST(PerfPlacement, LocalRankForTheChoiceOfDevice) {
  EXPECT_EQ(detectLocalRank(fakeEnv({})), std::nullopt);
  EXPECT_EQ(detectLocalRank(fakeEnv({{"LOCAL_RANK", "3"}})), 3);
  EXPECT_EQ(detectLocalRank(fakeEnv({{"SLURM_LOCALID", "2"}, {"LOCAL_RANK", "3"}})), 2);
  EXPECT_EQ(detectLocalRank(fakeEnv({{"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"SLURM_LOCALID", "2"}})),
            1);
  EXPECT_EQ(detectLocalRank(fakeEnv({{"PLEXUS_LOCAL_RANK", "0"}, {"LOCAL_RANK", "3"}})), 0);
  EXPECT_EQ(detectLocalRank(fakeEnv({{"PLEXUS_LOCAL_RANK", "x"}})), std::nullopt);
}

}  // namespace
}  // namespace plexus::perf
