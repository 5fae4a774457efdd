// Progress of the perf tools on stderr (perf/common/progress.hpp): the line's text and estimate on
// a fake clock, when it appears (forced, off, a short run on a terminal), and that a run with
// progress forced on writes the same stdout as one without (the nccl-tests table is untouched)
// while its stderr carries the \r-rewritten line, cleared at the end.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "common/collectives.hpp"
#include "common/options.hpp"
#include "common/progress.hpp"
#include "tests/perf/captured_run.hpp"

namespace plexus::perf {
namespace {

using Clock = Progress::Clock;

struct FakeClock {
  Clock::time_point t{};
  void advance(double s) {
    t += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
};

TEST(PerfProgress, LineCountsSizesAndEstimatesFromTheMeasuredTimeOnly) {
  FakeClock clock;
  std::FILE* err = std::tmpfile();
  {
    // Two sizes (0 and 64 KiB: weights 64 KiB and 128 KiB), two rounds: 4 sizes in all.
    Progress p(err, "x_perf", ProgressMode::kOn, {0, 64 << 10}, 2, [&] { return clock.t; });
    EXPECT_EQ(p.line(), "");
    clock.advance(5);  // init and warm-up: counted in "elapsed", not in the estimate
    p.roundStart();
    clock.advance(1);
    p.sizeDone();  // 1 s for weight 1: 5 weights left
    EXPECT_EQ(p.line(), "[x_perf] sizes 1/4, 6.0 s elapsed, about 5.0 s left");
    clock.advance(2);
    p.sizeDone();
    EXPECT_EQ(p.line(), "[x_perf] sizes 2/4, 8.0 s elapsed, about 3.0 s left");
    clock.advance(200);
    EXPECT_EQ(p.line(), "[x_perf] sizes 2/4, 3 min 28 s elapsed, about 3.0 s left");
  }
  const std::string text = readAndClose(err);
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  EXPECT_NE(text.find("\r[x_perf] sizes 1/4"), std::string::npos) << text;
  EXPECT_NE(text.find("\r[x_perf] sizes 2/4"), std::string::npos) << text;
  // Cleared at the end: spaces over the line, the cursor back at the start.
  EXPECT_EQ(text.substr(text.size() - 2), " \r") << text;
}

TEST(PerfProgress, UnboundedRunsHaveNoEstimate) {
  FakeClock clock;
  Progress p(nullptr, "x_perf", ProgressMode::kOff, {8}, 0, [&] { return clock.t; });
  p.sizeDone();  // off: nothing counted or written (a null stream is never touched)
  EXPECT_EQ(p.line(), "");
  std::FILE* err = std::tmpfile();
  {
    Progress q(err, "x_perf", ProgressMode::kOn, {8}, 0, [&] { return clock.t; });
    clock.advance(1.5);
    q.sizeDone();
    EXPECT_EQ(q.line(), "[x_perf] sizes 1, 1.5 s elapsed");
  }
  std::fclose(err);
}

TEST(PerfProgress, AutoStaysQuietOffATerminal) {
  FakeClock clock;
  std::FILE* err = std::tmpfile();  // not a terminal
  {
    Progress p(err, "x_perf", ProgressMode::kAuto, {8, 16}, 100, [&] { return clock.t; });
    for (int i = 0; i < 200; ++i) {
      clock.advance(1);
      p.sizeDone();
    }
  }
  EXPECT_EQ(readAndClose(err), "");
}

TEST(PerfProgress, EnvironmentVariableTakesZeroOrOne) {
  std::string error;
  unsetenv("PLEXUS_PERF_PROGRESS");
  EXPECT_EQ(progressModeFromEnv(error), ProgressMode::kAuto);
  setenv("PLEXUS_PERF_PROGRESS", "1", 1);
  EXPECT_EQ(progressModeFromEnv(error), ProgressMode::kOn);
  setenv("PLEXUS_PERF_PROGRESS", "0", 1);
  EXPECT_EQ(progressModeFromEnv(error), ProgressMode::kOff);
  setenv("PLEXUS_PERF_PROGRESS", "yes please", 1);
  EXPECT_EQ(progressModeFromEnv(error), std::nullopt);
  EXPECT_NE(error.find("PLEXUS_PERF_PROGRESS='yes please' is not 0 or 1"), std::string::npos)
      << error;
  unsetenv("PLEXUS_PERF_PROGRESS");
}

// The table with the measured numbers (times, bandwidths) and pids masked: what must not change.
// A time of 10 ms or more prints without decimals (a loaded machine): a number of five digits or
// more in front of a masked one is a time too.
std::string masked(const std::string& table) {
  static const std::regex number(R"( *\b\d+\.\d+(e[-+]?\d+)?\b)");
  static const std::regex wholeTime(R"( +\d{5,}(?= +N\b))");
  static const std::regex pid(R"(Pid +\d+)");
  return std::regex_replace(
      std::regex_replace(std::regex_replace(table, number, " N"), wholeTime, " N"), pid, "Pid P");
}

TEST(PerfProgress, ForcedProgressLeavesStdoutAloneAndWritesStderr) {
  Options o = smallHostSweep();
  o.nThreads = 2;
  setenv("PLEXUS_PERF_PROGRESS", "0", 1);
  const RunResult plain = runCaptured(kAllReduce, o, ProcessPlacement{});
  setenv("PLEXUS_PERF_PROGRESS", "1", 1);
  const RunResult shown = runCaptured(kAllReduce, o, ProcessPlacement{});
  unsetenv("PLEXUS_PERF_PROGRESS");
  ASSERT_EQ(plain.code, 0) << plain.err;
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_EQ(plain.out.find('\r'), std::string::npos);
  EXPECT_EQ(masked(shown.out), masked(plain.out));
  EXPECT_EQ(plain.err, "");
  // 8 B .. 64 KiB by x8: 5 sizes (8 B .. 32 KiB), one type, one op.
  for (int i = 1; i <= 5; ++i)
    EXPECT_NE(shown.err.find("\r[all_reduce_perf] sizes " + std::to_string(i) + "/5, "),
              std::string::npos)
        << shown.err;
  EXPECT_EQ(shown.err.back(), '\r') << shown.err;
  EXPECT_EQ(shown.err.find('\n'), std::string::npos) << shown.err;
}

}  // namespace
}  // namespace plexus::perf
