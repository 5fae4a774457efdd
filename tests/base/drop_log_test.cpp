// DropLog: a flood of dropped connections makes one line, then a count, never a line each.
#include "base/drop_log.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "base/log.hpp"

namespace plexus {
namespace {

// Log lines written while `body` runs (PLEXUS_DEBUG=WARN into a temporary file).
std::vector<std::string> linesLogged(const std::function<void()>& body) {
  const std::string path = "/tmp/plexus-drop-log-" + std::to_string(getpid()) + ".txt";
  setenv("PLEXUS_DEBUG", "WARN", 1);
  setenv("PLEXUS_DEBUG_FILE", path.c_str(), 1);
  logReset();
  body();
  unsetenv("PLEXUS_DEBUG_FILE");
  logReset();
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ::unlink(path.c_str());
  return lines;
}

TEST(DropLog, AFloodIsOneLineAndACount) {
  const auto lines = linesLogged([] {
    DropLog log("tcp transport on 127.0.0.1:4000", subsys::kNet, std::chrono::seconds(3600));
    for (int i = 0; i < 1000; ++i)
      log.dropped("127.0.0.1:" + std::to_string(5000 + i), "sent no introduction in time");
    EXPECT_EQ(log.total(), 1000u);
  });
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("tcp transport on 127.0.0.1:4000: dropped a connection from "
                          "127.0.0.1:5000 that sent no introduction in time"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("dropped 999 more connections (1000 in all; the last from "
                          "127.0.0.1:5999 that sent no introduction in time)"),
            std::string::npos)
      << lines[1];
}

TEST(DropLog, OneDropIsOneLineAndASummaryFollowsEachInterval) {
  EXPECT_EQ(linesLogged([] {
              DropLog log("root", subsys::kBootstrap);
              log.dropped("a", "closed");
            }).size(),
            1u);
  // A zero interval summarises every later drop at once: one line per drop after the first.
  const auto lines = linesLogged([] {
    DropLog log("root", subsys::kBootstrap, std::chrono::seconds(0));
    for (int i = 0; i < 3; ++i) log.dropped("b", "closed");
  });
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[2].find("dropped 1 more connection (3 in all; the last from b that closed)"),
            std::string::npos)
      << lines[2];
}

}  // namespace
}  // namespace plexus
