// The init INFO lines' compact forms (runtime/init_log.hpp): ring orders cut past 64 ranks with
// "..." and the last rank kept; the build description names version, git, build type and CUDA.
#include <gtest/gtest.h>

#include <numeric>
#include <regex>
#include <string>
#include <vector>

#include "runtime/build_info.hpp"
#include "runtime/init_log.hpp"

namespace plexus::runtime {
namespace {

std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(InitLog, ShortRingsArePrintedWhole) {
  EXPECT_EQ(compactOrder({}), "");
  EXPECT_EQ(compactOrder({3, 1, 0, 2}), "3 1 0 2");
  const std::string all64 = compactOrder(iota(kRingPrintRanks));
  EXPECT_EQ(all64.find("..."), std::string::npos);
  EXPECT_EQ(all64.substr(all64.size() - 6), " 62 63");
}

TEST(InitLog, LongRingsAreCutKeepingTheLastRank) {
  const std::string s = compactOrder(iota(576));
  // 62 ranks, "...", the last rank: 64 words, whatever N.
  EXPECT_EQ(s.substr(0, 8), "0 1 2 3 ");
  EXPECT_NE(s.find(" 61 ... 575"), std::string::npos) << s;
  EXPECT_EQ(s.find(" 62 "), std::string::npos) << s;
  EXPECT_LT(s.size(), 200u);
}

TEST(InitLog, BuildDescriptionNamesVersionGitTypeAndCuda) {
  EXPECT_TRUE(std::regex_match(
      std::string(buildDescription()),
      std::regex(R"(Plexus \d+\.\d+\.\d+ \((git \S+|no git), .+, CUDA (yes|no)\))")))
      << buildDescription();
}

}  // namespace
}  // namespace plexus::runtime
