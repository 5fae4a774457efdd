// Killing one rank during a run makes every other rank fail within the timeout with an error that
// names the lost rank, on every network transport: tcp with several sockets per peer, libfabric
// (tcp;ofi_rxm and shm providers) and UCX (tcp and posix,cma), each selected by environment only.
// A transport whose plugin was not built here is skipped.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Case {
  const char* name;
  const char* plugin;  // plugin library that must exist, or "" for a built-in transport
  std::map<std::string, std::string> env;
};

bool pluginBuilt(const std::string& name) {
  if (name.empty()) return true;
  std::string path = std::string(PLEXUS_TEST_PLUGIN_DIR) + "/libplexus-transport-" + name + ".so";
  return access(path.c_str(), R_OK) == 0;
}

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

std::set<std::string> devShm() {
  std::set<std::string> names;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) names.insert(e->d_name);
    closedir(d);
  }
  return names;
}

// libfabric's shm provider names its region "/dev/shm/<pid>:<endpoint>:..." and removes it when the
// endpoint closes; a SIGKILLed process cannot, and nothing in libfabric reclaims it. Plexus's own
// shared memory is anonymous (nothing to remove); this removes the provider's regions of processes
// that no longer exist, so the test leaves /dev/shm as it found it.
void removeDeadProvidersRegions(const std::set<std::string>& before) {
  for (const std::string& name : devShm()) {
    if (before.count(name) != 0) continue;
    size_t colon = name.find(':');
    if (colon == std::string::npos || colon == 0 || name.find_first_not_of("0123456789") != colon)
      continue;
    int pid = std::stoi(name.substr(0, colon));
    if (kill(pid, 0) != 0 && errno == ESRCH) unlink(("/dev/shm/" + name).c_str());
  }
}

class KilledRank : public ::testing::TestWithParam<Case> {};

TEST_P(KilledRank, EveryOtherRankFailsNamingIt) {
  const Case& c = GetParam();
  if (!pluginBuilt(c.plugin)) GTEST_SKIP() << "plugin " << c.plugin << " not built here";
  RunOptions o;
  o.env = c.env;
  o.env["PLEXUS_TIMEOUT"] = "60";
  const std::set<std::string> shmBefore = devShm();
  auto t0 = Clock::now();
  auto out = runRanks(
      4,
      [](int rank, int n, const ncclUniqueId& id) {
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        std::vector<float> buf(1 << 20, 1.0f);
        // Rank 2 dies after its first all-reduce; a peer may still be inside that one.
        for (int i = 0; i < 100; ++i) {
          if (i == 1 && rank == 2) raise(SIGKILL);
          ncclResult_t r = ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum,
                                         comm, nullptr);
          if (r != ncclSuccess) {
            RANK_CHECK(r == ncclRemoteError, "result %d", r);
            std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(comm));
            ncclCommAbort(comm);
            return 0;
          }
        }
        std::fprintf(stderr, "no error after the peer died\n");
        return 1;
      },
      o);
  auto elapsed = Clock::now() - t0;
  removeDeadProvidersRegions(shmBefore);
  EXPECT_EQ(devShm(), shmBefore) << "the run left files in /dev/shm";
  EXPECT_EQ(out[2].exitCode, 128 + SIGKILL);
  for (int r : {0, 1, 3}) {
    const auto& o2 = out[static_cast<size_t>(r)];
    EXPECT_EQ(o2.exitCode, 0) << o2.output;
    EXPECT_TRUE(contains(o2.output, "ERROR: ")) << o2.output;
    EXPECT_TRUE(contains(o2.output, "rank 2 (host")) << o2.output;
    size_t at = o2.output.find("ERROR: ");
    if (at != std::string::npos)
      std::printf("rank %d: %s\n", r, o2.output.substr(at, o2.output.find('\n', at) - at).c_str());
  }
  EXPECT_LT(elapsed, std::chrono::seconds(30));
}

INSTANTIATE_TEST_SUITE_P(
    Transports, KilledRank,
    ::testing::Values(
        Case{"tcp_4_sockets", "", {{"PLEXUS_TRANSPORTS", "tcp"}, {"PLEXUS_NSOCKS_PERTHREAD", "4"}}},
        Case{"ofi_tcp_rxm", "ofi", {{"PLEXUS_TRANSPORTS", "ofi"}, {"FI_PROVIDER", "tcp;ofi_rxm"}}},
        Case{"ofi_shm", "ofi", {{"PLEXUS_TRANSPORTS", "ofi"}, {"FI_PROVIDER", "shm"}}},
        Case{"ucx_tcp", "ucx", {{"PLEXUS_TRANSPORTS", "ucx"}, {"UCX_TLS", "tcp"}}},
        Case{"ucx_posix_cma", "ucx", {{"PLEXUS_TRANSPORTS", "ucx"}, {"UCX_TLS", "posix,cma"}}}),
    [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace plexus::testing
