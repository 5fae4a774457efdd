// The perf driver's init failures: bad configuration (PLEXUS_ALGO, PLEXUS_TIMEOUT, a plan file,
// PLEXUS_TRANSPORTS) says the variable, the bad value and the valid values, without the hint about
// launchers and reaching rank 0; a rank that never finds its peers (the bootstrap) keeps that hint.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/collectives.hpp"
#include "common/options.hpp"
#include "common/runner.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/perf/captured_run.hpp"

namespace plexus::perf {
namespace {

constexpr const char* kLauncherHint = "reach rank 0";

// Sets one variable for the test's lifetime.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

RunResult run(const ProcessPlacement& where) {
  Options o;
  o.minBytes = 8;
  o.maxBytes = 8;
  o.buffers = BufferKind::kHost;
  o.iters = 1;
  o.warmupIters = 0;
  return runCaptured(kAllReduce, o, where);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(PerfInitErrors, UnknownAlgorithmNamesTheVariableAndTheChoices) {
  ScopedEnv e("PLEXUS_ALGO", "nonsense");
  RunResult r = run(ProcessPlacement{});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "PLEXUS_ALGO") && contains(r.err, "nonsense") &&
              contains(r.err, "ring, tree"))
      << r.err;
  EXPECT_FALSE(contains(r.err, kLauncherHint)) << r.err;
  EXPECT_FALSE(contains(r.err, "NCCL_DEBUG")) << r.err;  // the message is the detail
}

TEST(PerfInitErrors, MalformedTimeoutSaysWhatItExpects) {
  ScopedEnv e("PLEXUS_TIMEOUT", "abc");
  RunResult r = run(ProcessPlacement{});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "PLEXUS_TIMEOUT='abc' is not a number (default 1800; Seconds"))
      << r.err;
  EXPECT_FALSE(contains(r.err, kLauncherHint)) << r.err;
}

TEST(PerfInitErrors, MissingPlanFileNamesTheFileAndTheVariable) {
  ScopedEnv e("PLEXUS_PLAN_FILE", "/nonexistent/plexus-plan.json");
  RunResult r = run(ProcessPlacement{});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err,
                       "PLEXUS_PLAN_FILE='/nonexistent/plexus-plan.json' is not a usable "
                       "plan file: plan file /nonexistent/plexus-plan.json: cannot open it"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "docs/plan-format.md")) << r.err;
  EXPECT_FALSE(contains(r.err, kLauncherHint)) << r.err;
}

TEST(PerfInitErrors, MalformedPlanFileNamesTheVariable) {
  char path[] = "/tmp/plexus-plan-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const char text[] = "{\"plexus_plan\": ";
  ASSERT_EQ(write(fd, text, sizeof(text) - 1), static_cast<ssize_t>(sizeof(text) - 1));
  close(fd);
  RunResult r;
  {
    ScopedEnv e("PLEXUS_PLAN_FILE", path);
    r = run(ProcessPlacement{});
  }
  unlink(path);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, std::string("PLEXUS_PLAN_FILE='") + path + "'") &&
              contains(r.err, "not valid JSON"))
      << r.err;
  EXPECT_FALSE(contains(r.err, kLauncherHint)) << r.err;
}

TEST(PerfInitErrors, UnknownTransportListsTheValidNames) {
  ScopedEnv e("PLEXUS_TRANSPORTS", "nonsense");
  RunResult r = run(ProcessPlacement{});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "nonsense: not a transport") &&
              contains(r.err, "valid names: shm, tcp"))
      << r.err;
  EXPECT_FALSE(contains(r.err, kLauncherHint)) << r.err;
}

TEST(PerfInitErrors, APeerThatNeverArrivesKeepsTheLauncherHint) {
  // Rank 0 of 2 starts the bootstrap root; rank 1 never comes.
  ScopedEnv id("PLEXUS_COMM_ID", "127.0.0.1:" + std::to_string(testing::freeLoopbackPort()));
  ScopedEnv timeout("PLEXUS_TIMEOUT", "1");
  ProcessPlacement where;
  where.rank = 0;
  where.size = 2;
  where.source = "this test";
  RunResult r = run(where);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "bootstrap")) << r.err;
  EXPECT_TRUE(contains(r.err, "placed by this test") && contains(r.err, kLauncherHint)) << r.err;
}

}  // namespace
}  // namespace plexus::perf
