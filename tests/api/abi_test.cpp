// Plexus's nccl.h matches NVIDIA's NCCL 2.28 header: sizes, field offsets, enum values, version
// macros and initializers; and a program compiled against NVIDIA's header runs on Plexus.
#include <gtest/gtest.h>

#include <string>
#include <vector>

std::vector<std::pair<std::string, long long>> plexusAbiTable();
std::vector<std::pair<std::string, long long>> referenceAbiTable();

TEST(NcclAbi, LayoutsAndConstantsMatchTheReferenceHeader) {
  auto ours = plexusAbiTable();
  auto ref = referenceAbiTable();
  ASSERT_EQ(ours.size(), ref.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].first, ref[i].first);
    EXPECT_EQ(ours[i].second, ref[i].second) << ours[i].first;
  }
}
