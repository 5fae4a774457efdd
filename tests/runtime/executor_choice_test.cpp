// Which executor runs a call: PLEXUS_EXECUTOR and PLEXUS_GPU_EXECUTOR parsing, the mapped path's
// same-host condition, and the device executor's fallbacks to the staged path (facts faked here,
// no GPU needed).
#include <gtest/gtest.h>
#include <stdlib.h>

#include "../common/env_guard.hpp"
#include "base/error.hpp"
#include "runtime/gpu_executor_choice.hpp"
#include "runtime/mapped_path.hpp"

namespace plexus::runtime {
namespace {

// The knobs these tests set, cleared before and after each.
struct EnvGuard : test::EnvGuard {
  EnvGuard() : test::EnvGuard({"PLEXUS_EXECUTOR", "PLEXUS_GPU_EXECUTOR"}) {}
};

TEST(ExecutorKnobs, HostExecutorDefaultsToTheEngineAndRejectsOtherNames) {
  EnvGuard g;
  EXPECT_EQ(hostExecutorFromEnv(), HostExecutor::kEngine);
  setenv("PLEXUS_EXECUTOR", "mapped", 1);
  EXPECT_EQ(hostExecutorFromEnv(), HostExecutor::kMapped);
  setenv("PLEXUS_EXECUTOR", "engine", 1);
  EXPECT_EQ(hostExecutorFromEnv(), HostExecutor::kEngine);
  setenv("PLEXUS_EXECUTOR", "mmaped", 1);
  try {
    hostExecutorFromEnv();
    FAIL() << "no error for PLEXUS_EXECUTOR=mmaped";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("mmaped"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("mapped"), std::string::npos) << e.what();
  }
}

TEST(ExecutorKnobs, GpuExecutorDefaultsToStagedAndRejectsOtherNames) {
  EnvGuard g;
  EXPECT_EQ(gpuExecutorFromEnv(), GpuExecutor::kStaged);
  setenv("PLEXUS_GPU_EXECUTOR", "device", 1);
  EXPECT_EQ(gpuExecutorFromEnv(), GpuExecutor::kDevice);
  setenv("PLEXUS_GPU_EXECUTOR", "gpu", 1);
  EXPECT_THROW(gpuExecutorFromEnv(), Error);
}

MappedPathSetup setupOn(std::vector<uint64_t> hosts, int rank) {
  MappedPathSetup s;
  s.rank = rank;
  s.nranks = static_cast<int>(hosts.size());
  s.hostHashes = std::move(hosts);
  s.ownHostHash = s.hostHashes[static_cast<size_t>(rank)];
  return s;
}

TEST(MappedPathChoice, NeedsEveryRankOnThisHost) {
  EXPECT_EQ(mappedPathObstacle(setupOn({7, 7, 7}, 1)), "");
  EXPECT_EQ(mappedPathObstacle(setupOn({7}, 0)), "");
  EXPECT_EQ(mappedPathObstacle(setupOn({7, 7, 9, 7}, 0)), "rank 2 runs on another host");
  EXPECT_EQ(mappedPathObstacle(setupOn({7, 7, 9, 7}, 2)), "rank 0 runs on another host");
}

GpuExecutorFacts everything() {
  GpuExecutorFacts f;
  f.allRanksLocal = f.deviceExecutorBuilt = f.cudaUsable = f.deviceExecutorWired = true;
  return f;
}

TEST(GpuExecutorChoiceTest, StagedWhenAskedWhateverTheFacts) {
  for (bool local : {false, true}) {
    GpuExecutorFacts f = everything();
    f.allRanksLocal = local;
    const GpuExecutorChoice c = chooseGpuExecutor(GpuExecutor::kStaged, f);
    EXPECT_EQ(c.executor, GpuExecutor::kStaged);
    EXPECT_EQ(c.fallbackReason, "");
  }
}

TEST(GpuExecutorChoiceTest, DeviceOnlyWhereEveryConditionHolds) {
  EXPECT_EQ(chooseGpuExecutor(GpuExecutor::kDevice, everything()).executor, GpuExecutor::kDevice);
  struct Case {
    bool GpuExecutorFacts::*fact;
    const char* says;
  };
  for (const Case& k : {Case{&GpuExecutorFacts::deviceExecutorBuilt, "built without CUDA"},
                        Case{&GpuExecutorFacts::cudaUsable, "not usable"},
                        Case{&GpuExecutorFacts::allRanksLocal, "other hosts"},
                        Case{&GpuExecutorFacts::deviceExecutorWired, "not wired"}}) {
    GpuExecutorFacts f = everything();
    f.*k.fact = false;
    const GpuExecutorChoice c = chooseGpuExecutor(GpuExecutor::kDevice, f);
    EXPECT_EQ(c.executor, GpuExecutor::kStaged) << k.says;
    EXPECT_NE(c.fallbackReason.find(k.says), std::string::npos) << c.fallbackReason;
  }
}

}  // namespace
}  // namespace plexus::runtime
