// Output format of the perf tools: the nccl-tests layout, column for column.
#include <gtest/gtest.h>

#include "common/options.hpp"
#include "common/report.hpp"

namespace plexus::perf {
namespace {

TEST(PerfReport, RowMatchesNcclTestsColumns) {
  // A row as nccl-tests prints it (one of its published all_reduce_perf tables).
  const std::string ncclTestsRow =
      "           8             2     float     sum      -1    135.8    0.00    0.00      0    "
      "123.5    0.00    0.00      0";
  std::string row = formatRowStart(8, 2, "float", "sum", -1) + formatRowResult(135.8, 0.0, 0.0, 0) +
                    formatRowResult(123.5, 0.0, 0.0, 0);
  EXPECT_EQ(row, ncclTestsRow);
  const std::string bigRow =
      "  2147483648     536870912     float     sum      -1    12646  169.81  318.40      0";
  EXPECT_EQ(formatRowStart(2147483648u, 536870912u, "float", "sum", -1) +
                formatRowResult(12646.0, 169.81, 318.40, 0),
            bigRow);
}

TEST(PerfReport, ColumnHeaderLinesUpWithRows) {
  std::string header = formatColumnHeader();
  ASSERT_EQ(std::count(header.begin(), header.end(), '\n'), 3);
  std::string names = header.substr(header.find('\n') + 1);
  names = names.substr(0, names.find('\n'));
  std::string row = formatRowStart(8, 2, "float", "sum", -1) + formatRowResult(35.5, 0.0, 0.0, 0) +
                    formatRowResult(35.5, 0.0, 0.0, 0);
  ASSERT_EQ(names.size(), row.size());
  // Every column name ends where its values end (right-aligned).
  for (const char* col : {"size", "count", "type", "redop", "root"}) {
    size_t end = names.find(col) + std::string(col).size();
    EXPECT_NE(row[end - 1], ' ') << col;
    EXPECT_TRUE(end == row.size() || row[end] == ' ') << col;
  }
  EXPECT_EQ(names.substr(0, 12), "#       size");
}

TEST(PerfReport, TimeFormatSwitchesPrecisionLikeNcclTests) {
  EXPECT_EQ(formatTime(38.41), "  38.41");
  EXPECT_EQ(formatTime(99.994), "  99.99");
  EXPECT_EQ(formatTime(135.84), "  135.8");
  EXPECT_EQ(formatTime(9999.9), " 9999.9");
  EXPECT_EQ(formatTime(12646.2), "  12646");
}

TEST(PerfReport, WrongColumnNotAvailableWithoutCheck) {
  EXPECT_EQ(formatRowResult(1.0, 2.0, 3.0, std::nullopt), "     1.00    2.00    3.00    N/A");
  EXPECT_EQ(formatRowResult(1.0, 2.0, 3.0, 12345), "     1.00    2.00    3.00  12345");
}

TEST(PerfReport, Summary) {
  EXPECT_EQ(formatSummary(0, 70.742),
            "# Out of bounds values : 0 OK\n# Avg bus bandwidth    : 70.742 \n#\n");
  EXPECT_EQ(formatSummary(3, 1.5),
            "# Out of bounds values : 3 FAILED\n# Avg bus bandwidth    : 1.5 \n#\n");
}

TEST(PerfReport, ParameterLine) {
  Options o;
  o.minBytes = 8;
  o.maxBytes = 8589934592u;
  o.stepFactor = 2;
  EXPECT_EQ(formatParameterLine(o),
            "# nThread 1 nGpus 1 minBytes 8 maxBytes 8589934592 step: 2(factor) warmup iters: 5 "
            "iters: 20 agg iters: 1 validation: 1 graph: 0\n");
  o.stepFactor = 1;
  EXPECT_NE(formatParameterLine(o).find("step: 1048576(bytes)"), std::string::npos);
}

TEST(PerfReport, RankLine) {
  EXPECT_EQ(formatRankLine(3, 1, 4242, "node7", 2),
            "#  Rank  3 Group  1 Pid   4242 on      node7 device  2 [host] CPU memory\n");
  // On device buffers: nccl-tests' PCI id and GPU name.
  EXPECT_EQ(formatRankLine(1, 0, 77, "gpu1", 0, "[0000:19:00] NVIDIA H100 80GB HBM3"),
            "#  Rank  1 Group  0 Pid     77 on       gpu1 device  0 [0000:19:00] NVIDIA H100 80GB "
            "HBM3\n");
}

TEST(PerfReport, Bandwidth) {
  EXPECT_DOUBLE_EQ(algorithmBandwidth(1000000000, 0.5), 2.0);  // GB/s = 1e9 B/s
  EXPECT_DOUBLE_EQ(algorithmBandwidth(0, 1e-6), 0.0);
  EXPECT_DOUBLE_EQ(algorithmBandwidth(100, 0.0), 0.0);
}

}  // namespace
}  // namespace plexus::perf
