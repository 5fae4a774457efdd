// plexus-doctor's report: the line format, the merge of several ranks' results (equal results
// once, differing ones per group of ranks) and the JSON round trip between ranks.
#include <gtest/gtest.h>

#include "report.hpp"

namespace plexus::tools::doctor {
namespace {

TEST(DoctorReport, LineShowsVerdictNameFoundAndFixForFailures) {
  RankedResult ok{Result{"shm.size", Verdict::kOk, "/dev/shm 1 GiB free", "ignored"}, {}};
  EXPECT_EQ(formatLine(ok, true), "OK   shm.size             /dev/shm 1 GiB free\n");
  RankedResult bad{Result{"limits.files", Verdict::kFail, "ulimit -n 64", "ulimit -n 4096"}, {2}};
  EXPECT_EQ(formatLine(bad, false),
            "FAIL limits.files         [rank 2] ulimit -n 64 -> fix: ulimit -n 4096\n");
}

TEST(DoctorReport, MergeKeepsEqualResultsOnceAndGroupsDifferingRanks) {
  const Result a{"net.interfaces", Verdict::kOk, "lo", ""};
  const Result f1{"limits.files", Verdict::kOk, "ulimit -n 20000", ""};
  const Result f2{"limits.files", Verdict::kFail, "ulimit -n 64", "raise it"};
  std::vector<std::vector<Result>> perRank = {{a, f1}, {a, f2}, {a, f1}, {a, f2}};
  std::vector<RankedResult> merged = mergeRanks(perRank);
  ASSERT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged[0].result.name, "net.interfaces");
  EXPECT_EQ(merged[0].ranks, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(merged[1].ranks, (std::vector<int>{0, 2}));
  EXPECT_EQ(merged[2].ranks, (std::vector<int>{1, 3}));
  EXPECT_TRUE(anyFail(merged));
  EXPECT_EQ(formatText(merged, 4),
            "OK   net.interfaces       lo\n"
            "OK   limits.files         [ranks 0,2] ulimit -n 20000\n"
            "FAIL limits.files         [ranks 1,3] ulimit -n 64 -> fix: raise it\n");
}

TEST(DoctorReport, ResultsSurviveTheJsonTripBetweenRanks) {
  std::vector<Result> in = {{"a", Verdict::kWarn, "found \"quoted\"", "fix"},
                            {"b", Verdict::kSkip, "none", ""}};
  std::vector<Result> out = resultsFromJson(resultsToJson(in));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].verdict, Verdict::kWarn);
  EXPECT_EQ(out[0].found, "found \"quoted\"");
  EXPECT_EQ(out[1].verdict, Verdict::kSkip);
  EXPECT_EQ(out[1].fix, "");
}

}  // namespace
}  // namespace plexus::tools::doctor
