// The INFO log operators grep (docs/logs.md): 4 rank processes with PLEXUS_DEBUG=INFO and
// PLEXUS_DEBUG_FILE=<dir>/log.%h.%p write one file per rank in which every line has the prefix
// "host:pid:tid [context] PLEXUS LEVEL " and each line a communicator owes is present (build,
// Init START, transports, channel rings, trees, the tuner's choice, Init COMPLETE with the init
// time); PLEXUS_DEBUG_SUBSYS=TUNE (and BOOT, the alias of BOOTSTRAP) keep only their subsystem's
// lines.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "plexus/nccl.h"
#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

constexpr int kRanks = 4;

// The prefix of every line: host, pid, tid, the context in brackets ("rank R of N, comm X" inside
// a communicator's calls, "-" outside any), "PLEXUS" and the level.
const std::regex kPrefix(
    R"(^[^:\s]+:\d+:\d+ \[(rank \d+ of \d+(, comm [0-9a-f]{8})?|-)\] PLEXUS (INFO|WARN|TRACE|VERSION) \S)");

int oneAllReduce(int rank, int nranks, const ncclUniqueId& id) {
  ncclResetDebugInit();  // the harness set PLEXUS_DEBUG* after the parent's logger was configured
  ncclComm_t comm = nullptr;
  RANK_NCCL(ncclCommInitRank(&comm, nranks, id, rank));
  std::vector<int32_t> v(8192, rank + 1), sum(8192, -1);  // 32 KB: above PLEXUS_SMALL_MAX, a plan
  RANK_NCCL(ncclAllReduce(v.data(), sum.data(), v.size(), ncclInt32, ncclSum, comm, nullptr));
  for (int32_t s : sum) RANK_CHECK(s == nranks * (nranks + 1) / 2, "sum %d", s);
  RANK_NCCL(ncclCommDestroy(comm));
  return 0;
}

struct LogDir {
  std::filesystem::path path;
  LogDir() {
    char tmpl[] = "/tmp/plexus-log-test.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~LogDir() { std::filesystem::remove_all(path); }
  // The lines of each file in the folder.
  std::vector<std::vector<std::string>> files() const {
    std::vector<std::vector<std::string>> out;
    for (const auto& e : std::filesystem::directory_iterator(path)) {
      std::ifstream in(e.path());
      std::vector<std::string> lines;
      for (std::string l; std::getline(in, l);) lines.push_back(l);
      out.push_back(std::move(lines));
    }
    return out;
  }
};

std::vector<std::vector<std::string>> runLogged(const LogDir& dir, const std::string& subsys) {
  RunOptions o;
  o.timeoutSeconds = 120;
  o.env["PLEXUS_DEBUG"] = "INFO";
  o.env["PLEXUS_DEBUG_SUBSYS"] = subsys;
  o.env["PLEXUS_DEBUG_FILE"] = (dir.path / "log.%h.%p").string();
  o.env["PLEXUS_TRANSPORTS"] = "shm,tcp";
  auto out = runRanks(kRanks, oneAllReduce, o);
  EXPECT_EQ(describeFailures(out), "");
  return dir.files();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

bool anyMatches(const std::vector<std::string>& lines, const std::string& pattern) {
  const std::regex re(pattern);
  for (const auto& l : lines)
    if (std::regex_search(l, re)) return true;
  return false;
}

TEST(LogLines, EveryRankWritesTheInitLinesInTheNcclFormat) {
  LogDir dir;
  auto files = runLogged(dir, "ALL");
  ASSERT_EQ(files.size(), static_cast<size_t>(kRanks)) << "one file per rank (log.%h.%p)";
  char host[64] = {};
  gethostname(host, sizeof(host) - 1);
  for (const auto& lines : files) {
    const std::string text = joined(lines);
    ASSERT_FALSE(lines.empty());
    for (const auto& l : lines) EXPECT_TRUE(std::regex_search(l, kPrefix)) << "line: " << l;
    EXPECT_TRUE(anyMatches(lines, R"(PLEXUS INFO Plexus \d+\.\d+\.\d+ \(.*, CUDA (yes|no)\)$)"))
        << text;
    EXPECT_TRUE(anyMatches(lines, R"(comm 0x[0-9a-f]+ rank \d nranks 4 host \S+ pid \d+ )"
                                  R"(commId 0x[0-9a-f]{16} - Init START$)"))
        << text;
    EXPECT_TRUE(anyMatches(lines, R"(rank (\d) -> rank (\d) \(host \S+\): shm$)")) << text;
    EXPECT_TRUE(anyMatches(lines, R"(rank \d of 4 transports: shm to 3 peers$)")) << text;
    EXPECT_TRUE(anyMatches(lines, R"(channel 00/\d\d ring: \d \d \d \d$)")) << text;
    EXPECT_TRUE(anyMatches(lines, R"(tree 0: parent -?\d -> rank \d -> children [-0-9,]+$)"))
        << text;
    EXPECT_TRUE(anyMatches(lines, R"(tree 1: parent -?\d -> rank \d -> children [-0-9,]+$)"))
        << text;
    EXPECT_TRUE(anyMatches(lines, R"(allreduce of 8192 x 4 bytes on 4 ranks: \w+, \d+ channels, )"
                                  R"(chunk \d+ elements, predicted [0-9.]+ us$)"))
        << text;
    EXPECT_TRUE(anyMatches(lines, R"(comm 0x[0-9a-f]+ rank \d nranks 4 hosts 1 localRanks 4 )"
                                  R"(- Init COMPLETE, init time [0-9.]+ s$)"))
        << text;
    EXPECT_TRUE(anyMatches(lines, std::string("^") + host + R"(:\d+:\d+ )")) << text;
  }
}

TEST(LogLines, SubsystemFilterKeepsOnlyThatSubsystem) {
  LogDir dir;
  auto files = runLogged(dir, "TUNE");
  ASSERT_EQ(files.size(), static_cast<size_t>(kRanks));
  for (const auto& lines : files) {
    EXPECT_TRUE(anyMatches(lines, "allreduce of 8192 x 4 bytes on 4 ranks: ")) << joined(lines);
    for (const auto& l : lines)
      EXPECT_TRUE(l.find(" predicted ") != std::string::npos) << "not a TUNE line: " << l;
  }
  LogDir boot;
  files = runLogged(boot, "BOOT");
  ASSERT_EQ(files.size(), static_cast<size_t>(kRanks));
  for (const auto& lines : files) {
    EXPECT_TRUE(anyMatches(lines, "joined the bootstrap")) << joined(lines);
    EXPECT_FALSE(anyMatches(lines, "Init START| predicted ")) << joined(lines);
  }
}

}  // namespace
}  // namespace plexus::testing
