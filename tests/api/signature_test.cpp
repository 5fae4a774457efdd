// Every NCCL entry point Plexus exports has the C++ type NVIDIA's newest nccl.h gives it (the
// header of the NCCL that the PyTorch wheel of python/ci.sh ships, 2.30), so that programs built
// against that header call Plexus correctly. The one allowed difference: ncclConfig_t's struct
// tag carries its layout version (ncclConfig_v22800 here, ncclConfig_v23000 there); a pointer to
// either is passed the same way, and Plexus reads only the fields of the 2.28 layout.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

std::vector<std::pair<std::string, std::string>> plexusSignatureTable();
std::vector<std::pair<std::string, std::string>> referenceSignatureTable();

TEST(NcclSignatures, EveryEntryPointMatchesTheNewestReferenceHeader) {
  auto ours = plexusSignatureTable();
  auto ref = referenceSignatureTable();
  ASSERT_EQ(ours.size(), ref.size());
  const std::regex configTag("ncclConfig_v[0-9]+");
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].first, ref[i].first);
    EXPECT_EQ(std::regex_replace(ours[i].second, configTag, "ncclConfig_vN"),
              std::regex_replace(ref[i].second, configTag, "ncclConfig_vN"))
        << ours[i].first;
  }
}
