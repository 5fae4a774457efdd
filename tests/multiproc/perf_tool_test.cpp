// The launcher and the perf tool on every transport of the list (transport_list.cpp): plexus-run
// starts all_reduce_perf on 4 ranks with the transport's environment passed by -x only, and the
// tool checks every element of every datatype from 8 B to 4 MiB (-c 1), crossing the sizes where
// the transports change protocol (eager to rendezvous, one slot to many). A short sweep for CI
// time; the full -e 64M one is run by hand (docs/transport-plugins.md).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

// Runs `command` through the shell; returns its exit status and what it wrote (stdout and stderr).
std::pair<int, std::string> runCommand(const std::string& command) {
  std::string output;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> chunk;
  while (size_t got = std::fread(chunk.data(), 1, chunk.size(), p))
    output.append(chunk.data(), got);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output};
}

// Single-quoted for the shell.
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class PerfTool : public OnEveryTransport {};

TEST_P(PerfTool, AllReduceSweepUnderPlexusRunChecksEveryResult) {
  std::string command = std::string(PLEXUS_TEST_RUN) + " -n 4 --timeout 240";
  for (const auto& [name, value] : rankEnvironment(transport()))
    command += " -x " + quoted(name + "=" + value);
  command += " -x PLEXUS_TIMEOUT=60 " + std::string(PLEXUS_TEST_ALL_REDUCE_PERF) +
             " -b 8 -e 4M -f 8 -w 1 -n 2 -c 1 -d all";
  auto [rc, output] = runCommand(command);
  EXPECT_EQ(rc, 0) << command << "\n" << output;
  EXPECT_TRUE(contains(output, "Out of bounds values : 0 OK")) << command << "\n" << output;
}

INSTANTIATE_TEST_SUITE_P(Transports, PerfTool, ::testing::ValuesIn(transportList()), transportName);

}  // namespace
}  // namespace plexus::testing
