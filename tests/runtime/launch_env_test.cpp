// Launcher environments (plexus-run, torchrun, Open MPI, Slurm), unique id encoding, secrets,
// and the bootstrap ring itself (threads as ranks).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <thread>
#include <vector>

#include "base/error.hpp"
#include "runtime/bootstrap.hpp"
#include "runtime/launch_env.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::runtime {
namespace {

const char* kAllVars[] = {"PLEXUS_RANK",
                          "PLEXUS_WORLD_SIZE",
                          "PLEXUS_LOCAL_RANK",
                          "PLEXUS_COMM_ID",
                          "PLEXUS_SECRET",
                          "RANK",
                          "WORLD_SIZE",
                          "LOCAL_RANK",
                          "MASTER_ADDR",
                          "MASTER_PORT",
                          "OMPI_COMM_WORLD_RANK",
                          "OMPI_COMM_WORLD_SIZE",
                          "OMPI_COMM_WORLD_LOCAL_RANK",
                          "OMPI_COMM_WORLD_LOCAL_SIZE",
                          "OMPI_MCA_ess_base_jobid",
                          "OMPI_MCA_orte_ess_jobid",
                          "PMIX_NAMESPACE",
                          "LOCAL_WORLD_SIZE",
                          "PLEXUS_LOCAL_SIZE",
                          "SLURM_NNODES",
                          "SLURM_STEP_NUM_NODES",
                          "SLURM_STEP_ID",
                          "SLURM_PROCID",
                          "SLURM_NTASKS",
                          "SLURM_LOCALID",
                          "SLURM_JOB_ID",
                          "SLURM_STEP_NODELIST",
                          "SLURM_JOB_NODELIST",
                          "TORCHELASTIC_RUN_ID"};

class LaunchEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kAllVars) unsetenv(v);
  }
  void TearDown() override { SetUp(); }
};

TEST_F(LaunchEnvTest, NoLauncher) {
  EXPECT_FALSE(detectLaunchEnv());
}

TEST_F(LaunchEnvTest, PlexusRun) {
  setenv("PLEXUS_RANK", "2", 1);
  setenv("PLEXUS_WORLD_SIZE", "4", 1);
  setenv("PLEXUS_LOCAL_RANK", "2", 1);
  setenv("PLEXUS_COMM_ID", "127.0.0.1:5555", 1);
  setenv("PLEXUS_SECRET", "000102030405060708090a0b0c0d0e0f", 1);
  auto e = detectLaunchEnv();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->launcher, "plexus-run");
  EXPECT_EQ(e->rank, 2);
  EXPECT_EQ(e->size, 4);
  EXPECT_EQ(e->localRank, 2);
  EXPECT_EQ(e->rootAddress, "127.0.0.1:5555");
  EXPECT_EQ(e->secret[15], 0x0f);
}

TEST_F(LaunchEnvTest, TorchrunUsesMasterPortPlusOne) {
  setenv("RANK", "1", 1);
  setenv("WORLD_SIZE", "2", 1);
  setenv("LOCAL_RANK", "1", 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "29500", 1);
  auto e = detectLaunchEnv();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->launcher, "torchrun");
  EXPECT_EQ(e->rootAddress, "127.0.0.1:29501");
  // Every rank derives the same secret.
  auto first = e->secret;
  setenv("RANK", "0", 1);
  EXPECT_EQ(detectLaunchEnv()->secret, first);
}

TEST_F(LaunchEnvTest, OpenMpiOnSeveralHostsNeedsARootAddress) {
  setenv("OMPI_COMM_WORLD_RANK", "0", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
  setenv("OMPI_MCA_ess_base_jobid", "4242", 1);
  try {
    detectLaunchEnv();
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    for (const char* part : {"Open MPI started this process as rank 0 of 3", "PLEXUS_COMM_ID",
                             "MASTER_ADDR", "several hosts (OMPI_COMM_WORLD_LOCAL_SIZE=2)"})
      EXPECT_NE(m.find(part), std::string::npos) << part << " not in: " << m;
  }
  // Without requireRoot the environment comes back without a root.
  auto bare = detectLaunchEnv(false);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->rootAddress, "");
  EXPECT_FALSE(bare->allLocal);
  // Without a local size the launcher does not say where the ranks are: an error too.
  unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  EXPECT_THROW(detectLaunchEnv(), Error);
  setenv("PLEXUS_COMM_ID", "[::1]:7000", 1);
  auto e = detectLaunchEnv();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->launcher, "Open MPI");
  EXPECT_EQ(e->size, 3);
  EXPECT_EQ(e->rootAddress, "[::1]:7000");
  EXPECT_EQ(e->rootSource, "variables");
}

// mpirun on one host with no address: every rank derives the same loopback root from the job id.
TEST_F(LaunchEnvTest, OpenMpiOnOneHostDerivesALoopbackRootFromTheJobId) {
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4", 1);
  setenv("OMPI_MCA_ess_base_jobid", "1931083777", 1);
  std::string root;
  Secret secret{};
  for (int r = 0; r < 4; ++r) {
    setenv("OMPI_COMM_WORLD_RANK", std::to_string(r).c_str(), 1);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", std::to_string(r).c_str(), 1);
    auto e = detectLaunchEnv();
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->allLocal);
    EXPECT_EQ(e->rootSource, "job id on loopback");
    if (r == 0) {
      root = e->rootAddress;
      secret = e->secret;
    }
    EXPECT_EQ(e->rootAddress, root);
    EXPECT_EQ(e->secret, secret);
  }
  ASSERT_EQ(root.rfind("127.0.0.1:", 0), 0u) << root;
  const int port = std::stoi(root.substr(10));
  EXPECT_GE(port, 20000);
  EXPECT_LT(port, 32000);
  // Another job: another root (and secret).
  setenv("OMPI_MCA_ess_base_jobid", "1931083778", 1);
  EXPECT_NE(detectLaunchEnv()->rootAddress, root);
  // No job id at all: an error that says so.
  unsetenv("OMPI_MCA_ess_base_jobid");
  try {
    detectLaunchEnv();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no job id"), std::string::npos) << e.what();
  }
}

TEST_F(LaunchEnvTest, SlurmOnOneNodeAndTorchrunOnOneHostDeriveALoopbackRoot) {
  setenv("SLURM_PROCID", "1", 1);
  setenv("SLURM_NTASKS", "2", 1);
  setenv("SLURM_JOB_ID", "99", 1);
  setenv("SLURM_NNODES", "1", 1);
  auto e = detectLaunchEnv();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->rootSource, "job id on loopback");
  setenv("SLURM_NNODES", "2", 1);
  EXPECT_THROW(detectLaunchEnv(), Error);
  for (const char* v : kAllVars) unsetenv(v);
  setenv("RANK", "1", 1);
  setenv("WORLD_SIZE", "2", 1);
  setenv("LOCAL_WORLD_SIZE", "2", 1);
  setenv("TORCHELASTIC_RUN_ID", "abc", 1);
  e = detectLaunchEnv();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->launcher, "torchrun");
  EXPECT_EQ(e->rootSource, "job id on loopback");
}

TEST_F(LaunchEnvTest, SlurmDerivesTheRootFromTheNodeList) {
  setenv("SLURM_PROCID", "5", 1);
  setenv("SLURM_NTASKS", "8", 1);
  setenv("SLURM_LOCALID", "1", 1);
  setenv("SLURM_JOB_ID", "123456", 1);
  setenv("SLURM_STEP_NODELIST", "gpu[007-010,12],login", 1);
  auto e = detectLaunchEnv();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->launcher, "Slurm");
  EXPECT_EQ(e->rootAddress, "gpu007:" + std::to_string(20000 + 123456 % 20000));
  EXPECT_EQ(e->localRank, 1);
}

TEST_F(LaunchEnvTest, InconsistentVariablesAreNamed) {
  setenv("PLEXUS_RANK", "4", 1);
  setenv("PLEXUS_WORLD_SIZE", "4", 1);
  setenv("PLEXUS_COMM_ID", "127.0.0.1:1", 1);
  EXPECT_THROW(detectLaunchEnv(), Error);
  unsetenv("PLEXUS_WORLD_SIZE");
  try {
    detectLaunchEnv();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("PLEXUS_WORLD_SIZE"), std::string::npos);
  }
}

TEST(UniqueId, RoundTripAndRejection) {
  Secret s = parseSecretHex("ffeeddccbbaa99887766554433221100");
  EXPECT_EQ(s[0], 0xff);
  EXPECT_EQ(s[1], 0xee);
  EXPECT_EQ(s[15], 0x00);
  EXPECT_THROW(parseSecretHex("xyz"), Error);
  UniqueId id = idFromAddress("127.0.0.1:4242", s);
  UniqueId back = UniqueId::decode(id.encode());
  EXPECT_EQ(back.root.toString(), "127.0.0.1:4242");
  EXPECT_EQ(back.secret, s);
  EXPECT_EQ(back.nonce, id.nonce);
  EXPECT_TRUE(back.rootStartedByRank0);
  UniqueIdBytes junk{};
  junk[0] = 1;
  EXPECT_THROW(UniqueId::decode(junk), Error);
}

TEST(BootstrapRing, ThreadsAsRanksAllGather) {
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  UniqueId id = createRootAndId();
  const int n = 6;
  std::vector<std::vector<std::string>> got(n);
  std::vector<uint64_t> ids(n);
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      auto b = Bootstrap::connect(id, r, n, Deadline::after(std::chrono::seconds(20)), nullptr);
      got[static_cast<size_t>(r)] =
          b->allGather(std::string(static_cast<size_t>(r) * 100, char('a' + r)),
                       Deadline::after(std::chrono::seconds(20)));
      ids[static_cast<size_t>(r)] = b->commId();
      b->barrier(Deadline::after(std::chrono::seconds(20)));
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(ids[static_cast<size_t>(r)], ids[0]);
    ASSERT_EQ(got[static_cast<size_t>(r)].size(), static_cast<size_t>(n));
    for (int k = 0; k < n; ++k)
      EXPECT_EQ(got[static_cast<size_t>(r)][static_cast<size_t>(k)],
                std::string(static_cast<size_t>(k) * 100, char('a' + k)));
  }
}

}  // namespace
}  // namespace plexus::runtime
