// Feeds every file of tests/fuzz/corpus/<target>/ (seeds, and the inputs that crashed a fuzzer
// once) to its fuzz target in the regular build: found bugs stay fixed without clang or libFuzzer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_targets.hpp"

namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> readBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class CorpusReplay : public ::testing::TestWithParam<plexus::fuzz::Target> {};

TEST_P(CorpusReplay, EveryFileRunsClean) {
  const plexus::fuzz::Target t = GetParam();
  const fs::path dir = fs::path(PLEXUS_FUZZ_CORPUS) / t.name;
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing: every target keeps a seed corpus";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << dir << " has no seed";
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const std::vector<uint8_t> bytes = readBytes(f);
    EXPECT_EQ(t.entry(bytes.data(), bytes.size()), 0);
  }
  RecordProperty("files", static_cast<int>(files.size()));
}

INSTANTIATE_TEST_SUITE_P(Fuzz, CorpusReplay,
                         ::testing::ValuesIn(plexus::fuzz::targets().begin(),
                                             plexus::fuzz::targets().end()),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
