// plexus-topo simulate end to end: nccl-tests' columns, one row per size, busbw = algbw x the
// all-reduce factor, the forced algorithm used, bad values refused.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <sstream>
#include <string>
#include <vector>

namespace {

struct Result {
  int status = -1;
  std::string out;
};

// Runs plexus-topo with `args` (no shell metacharacters) and stdout + stderr captured.
Result run(const std::string& args) {
  const std::string cmd = std::string(PLEXUS_TOPO_BIN) + " " + args + " 2>&1";
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::vector<std::vector<std::string>> rows(const std::string& out) {
  std::vector<std::vector<std::string>> table;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::vector<std::string> cells;
    for (std::string c; f >> c;) cells.push_back(c);
    table.push_back(cells);
  }
  return table;
}

TEST(PlexusTopoSimulate, TableLikeAllReducePerf) {
  const Result r = run("--system dgx-h100 simulate -b 8 -e 1M -f 8 --algo ring");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("#        size        count     type  redop   root       time    algbw"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("allreduce on dgx-h100, 8 ranks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("# Avg bus bandwidth    : "), std::string::npos) << r.out;
  const auto t = rows(r.out);
  ASSERT_EQ(t.size(), 6u) << r.out;  // 8 B to 256K by 8x (2M is over 1M)
  uint64_t size = 8;
  for (const auto& row : t) {
    ASSERT_EQ(row.size(), 12u) << r.out;
    EXPECT_EQ(std::stoull(row[0]), size);
    EXPECT_EQ(std::stoull(row[1]), size / 4);
    EXPECT_EQ(row[2], "float");
    EXPECT_EQ(row[3], "sum");
    EXPECT_EQ(row[4], "-1");
    const double us = std::stod(row[5]), algbw = std::stod(row[6]), busbw = std::stod(row[7]);
    EXPECT_GT(us, 0);
    EXPECT_NEAR(algbw, static_cast<double>(size) / (us * 1e3), 0.006);
    EXPECT_NEAR(busbw, algbw * 2 * 7 / 8, 0.011);
    EXPECT_EQ(row[8], "ring");
    EXPECT_TRUE(row[9] == "LL" || row[9] == "Simple") << row[9];
    size *= 8;
  }
}

TEST(PlexusTopoSimulate, RefusesBadValues) {
  EXPECT_NE(run("--system dgx-h100 simulate -b 2M -e 1M").status, 0);
  EXPECT_NE(run("--system dgx-h100 simulate --coll barrier").status, 0);
  const Result unknown = run("--system dgx-h100 simulate --algo nosuch -b 1M -e 1M");
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.out.find("nosuch"), std::string::npos) << unknown.out;
  EXPECT_NE(run("--system dgx-h100 simulate --ranks 9").status, 0);
  EXPECT_NE(run("--system cpu simulate --transport udp").status, 0);
}

}  // namespace
