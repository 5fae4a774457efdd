// Unit tests of plexus-run's parts: line splitting, command line, rank environment.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "launch_options.hpp"
#include "line_splitter.hpp"
#include "rank_environment.hpp"

namespace plexus::run {
namespace {

TEST(LineSplitter, WholeLinesOnlyWithPrefix) {
  LineSplitter s("[3] ");
  std::string out;
  s.feed("abc", out);
  EXPECT_EQ(out, "");
  s.feed("def\ngh", out);
  EXPECT_EQ(out, "[3] abcdef\n");
  out.clear();
  s.feed("\n\nx\n", out);
  EXPECT_EQ(out, "[3] gh\n[3] \n[3] x\n");
  EXPECT_FALSE(s.hasPartial());
}

TEST(LineSplitter, PartialLineAtEndGetsNewlineOrPassesThrough) {
  LineSplitter s("[0] ");
  std::string out;
  s.feed("tail", out);
  s.finish(out);
  EXPECT_EQ(out, "[0] tail\n");
  out.clear();
  s.finish(out);
  EXPECT_EQ(out, "");

  LineSplitter raw("", false);
  out.clear();
  raw.feed("a\nb", out);
  raw.finish(out);
  EXPECT_EQ(out, "a\nb");
}

TEST(LineSplitter, CutsOverlongLines) {
  LineSplitter s("> ", true, 4);
  std::string out;
  s.feed("abcdefghij\n", out);
  EXPECT_EQ(out, "> abcd\n> efgh\n> ij\n");
  out.clear();
  s.feed("wxyz\n", out);  // exactly maxLine: one line, no empty line after it
  EXPECT_EQ(out, "> wxyz\n");
  out.clear();
  s.feed("ab", out);
  s.feed("cdef", out);
  EXPECT_EQ(out, "> abcd\n");
  s.finish(out);
  EXPECT_EQ(out, "> abcd\n> ef\n");
}

TEST(LaunchOptions, ParsesLauncherOptionsAndLeavesProgramArguments) {
  const char* argv[] = {"plexus-run",  "-n",   "4",   "--grace", "1.5",    "--timeout",
                        "30",          "-x",   "A=1", "-xB=2",   "--port", "5000",
                        "--no-prefix", "prog", "-n",  "2",       "-x",     "y"};
  ParseOutcome p = parseLaunchOptions(static_cast<int>(std::size(argv)), argv);
  ASSERT_TRUE(p.options);
  const LaunchOptions& o = *p.options;
  EXPECT_EQ(o.nranks, 4);
  EXPECT_DOUBLE_EQ(o.graceSeconds, 1.5);
  EXPECT_DOUBLE_EQ(o.timeoutSeconds, 30.0);
  ASSERT_TRUE(o.port);
  EXPECT_EQ(*o.port, 5000);
  EXPECT_FALSE(o.prefix);
  ASSERT_EQ(o.extraEnv.size(), 2u);
  EXPECT_EQ(o.extraEnv[0], std::make_pair(std::string("A"), std::string("1")));
  EXPECT_EQ(o.extraEnv[1], std::make_pair(std::string("B"), std::string("2")));
  EXPECT_EQ(o.command, (std::vector<std::string>{"prog", "-n", "2", "-x", "y"}));
}

TEST(LaunchOptions, Defaults) {
  const char* argv[] = {"plexus-run", "-n", "2", "prog"};
  ParseOutcome p = parseLaunchOptions(4, argv);
  ASSERT_TRUE(p.options);
  EXPECT_TRUE(p.options->prefix);
  EXPECT_FALSE(p.options->port);
  EXPECT_DOUBLE_EQ(p.options->timeoutSeconds, 0.0);
  EXPECT_GT(p.options->graceSeconds, 0.0);
}

TEST(LaunchOptions, EnvAssignment) {
  EXPECT_EQ(parseEnvAssignment("X=1=2"), std::make_pair(std::string("X"), std::string("1=2")));
  EXPECT_EQ(parseEnvAssignment("X="), std::make_pair(std::string("X"), std::string("")));
  EXPECT_FALSE(parseEnvAssignment("=1"));
  EXPECT_FALSE(parseEnvAssignment("9X=1"));
  EXPECT_FALSE(parseEnvAssignment("A-B=1"));
  setenv("PLEXUS_RUN_UNIT_TEST_VAR", "carried", 1);
  EXPECT_EQ(parseEnvAssignment("PLEXUS_RUN_UNIT_TEST_VAR"),
            std::make_pair(std::string("PLEXUS_RUN_UNIT_TEST_VAR"), std::string("carried")));
  unsetenv("PLEXUS_RUN_UNIT_TEST_VAR");
  EXPECT_FALSE(parseEnvAssignment("PLEXUS_RUN_UNIT_TEST_VAR"));
}

std::string valueOf(const std::vector<std::string>& env, const std::string& name) {
  std::string found = "(unset)";
  int count = 0;
  for (const auto& e : env)
    if (e.rfind(name + "=", 0) == 0) {
      found = e.substr(name.size() + 1);
      ++count;
    }
  EXPECT_LE(count, 1) << name << " set twice";
  return found;
}

TEST(RankEnvironment, SetsJobVariablesAndOverridesInherited) {
  LaunchOptions o;
  o.nranks = 5;
  o.extraEnv = {{"FOO", "bar"}, {"PLEXUS_WORLD_SIZE", "1"}};
  JobIdentity job{"127.0.0.1:1234", std::string(32, 'a')};
  std::vector<std::string> base = {"PATH=/bin", "PLEXUS_RANK=7", "FOO=old"};
  auto env = rankEnvironment(base, o, job, 3);
  EXPECT_EQ(valueOf(env, "PATH"), "/bin");
  EXPECT_EQ(valueOf(env, "FOO"), "bar");
  EXPECT_EQ(valueOf(env, "PLEXUS_RANK"), "3");
  EXPECT_EQ(valueOf(env, "PLEXUS_WORLD_SIZE"), "5");
  EXPECT_EQ(valueOf(env, "PLEXUS_LOCAL_RANK"), "3");
  EXPECT_EQ(valueOf(env, "PLEXUS_LOCAL_SIZE"), "5");
  EXPECT_EQ(valueOf(env, "PLEXUS_COMM_ID"), "127.0.0.1:1234");
  EXPECT_EQ(valueOf(env, "PLEXUS_SECRET"), std::string(32, 'a'));
  EXPECT_EQ(valueOf(env, "PLEXUS_SOCKET_IFNAME"), "lo");
}

TEST(RankEnvironment, KeepsTheUsersInterfaceChoice) {
  LaunchOptions o;
  o.nranks = 1;
  JobIdentity job{"127.0.0.1:1", std::string(32, '0')};
  EXPECT_EQ(
      valueOf(rankEnvironment({"PLEXUS_SOCKET_IFNAME=eth0"}, o, job, 0), "PLEXUS_SOCKET_IFNAME"),
      "eth0");
  EXPECT_EQ(valueOf(rankEnvironment({"NCCL_SOCKET_IFNAME=ib"}, o, job, 0), "PLEXUS_SOCKET_IFNAME"),
            "(unset)");
  o.extraEnv = {{"PLEXUS_SOCKET_IFNAME", "=eth1"}};
  EXPECT_EQ(valueOf(rankEnvironment({}, o, job, 0), "PLEXUS_SOCKET_IFNAME"), "=eth1");
}

TEST(JobIdentity, FreePortAndRandomSecret) {
  JobIdentity a = makeJobIdentity(std::nullopt);
  ASSERT_EQ(a.commId.rfind("127.0.0.1:", 0), 0u);
  int port = std::stoi(a.commId.substr(10));
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
  EXPECT_EQ(a.secretHex.size(), 32u);
  EXPECT_TRUE(std::all_of(a.secretHex.begin(), a.secretHex.end(),
                          [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }));
  EXPECT_NE(randomSecretHex(), randomSecretHex());
  EXPECT_EQ(makeJobIdentity(uint16_t{4242}).commId, "127.0.0.1:4242");
}

}  // namespace
}  // namespace plexus::run
