// The merge behind plexus-trace (tools/plexus-trace/trace_merge.hpp) on hand-made dumps.
#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>

#include "trace_merge.hpp"

namespace plexus::trace {
namespace {

// A dump of `rank` of 4 in all-reduce `seq`, its channel 0 waiting for data from `peer` (-1: its
// last operation finished).
std::string dumpLine(int rank, int seq, int peer, int64_t dumpedUs = 1000) {
  std::ostringstream s;
  s << R"({"plexus_flight_recorder":1,"host":"h","pid":)" << 100 + rank << R"(,"rank":)" << rank
    << R"(,"nranks":4,"comm":"abcd0123","context":"c","reason":"r","dumped_us":)" << dumpedUs
    << R"(,"recorded":2,"ops":[{"id":1,"seq":)" << seq - 1
    << R"(,"collective":"allreduce","algorithm":"ring","count":8,"type":"float","op":"sum","root":-1,"state":"done","steps_done":6,"steps_total":6,"waits":[],"start_us":1,"last_progress_us":2,"end_us":3})";
  if (peer >= 0)
    s << R"(,{"id":2,"seq":)" << seq
      << R"(,"collective":"allreduce","algorithm":"ring","count":8,"type":"float","op":"sum","root":-1,"state":"running","steps_done":2,"steps_total":6,"waits":[{"channel":0,"for":"data from","peer":)"
      << peer << R"(}],"start_us":4,"last_progress_us":5,"end_us":0})";
  s << "]}";
  return s.str();
}

std::vector<Dump> read(const std::string& text) {
  std::istringstream in(text);
  return readDumps(in, "test");
}

TEST(PlexusTrace, MissingRankThatOthersWaitForIsTheSuspect) {
  // Ranks 0, 1 and 3 dumped (among log lines); rank 2 did not. A ring: 3 waits for 2.
  auto dumps = read("log line\n" + dumpLine(0, 7, 3) + "\nvm:1:2 PLEXUS WARN x\n" +
                    dumpLine(1, 7, 0) + "\n" + dumpLine(3, 7, 2) + "\n");
  ASSERT_EQ(dumps.size(), 3u);
  auto reports = merge(dumps);
  ASSERT_EQ(reports.size(), 1u);
  const Report& r = reports.at("abcd0123");
  EXPECT_EQ(r.missing, std::vector<int>{2});
  EXPECT_EQ(r.stuck, (std::vector<int>{0, 1, 3}));
  ASSERT_FALSE(r.suspects.empty());
  EXPECT_EQ(r.suspects.front(), 2);
  const std::string text = formatText(r);
  EXPECT_NE(text.find("suspect: rank 2 (no dump"), std::string::npos) << text;
  EXPECT_NE(text.find("allreduce seq 7 (ring, 8 x float, sum) running at step 2 of 6"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rank 3 -> rank 2 (data from)"), std::string::npos) << text;
}

TEST(PlexusTrace, MostWaitedForRankIsTheSuspectAndEarliestDumpCounts) {
  // Everyone dumped; 0, 1 and 3 wait for 2, which waits for 1. A later dump of rank 1 (finished)
  // does not replace its first.
  auto dumps = read(dumpLine(0, 3, 2) + "\n" + dumpLine(1, 3, 2) + "\n" + dumpLine(2, 3, 1) + "\n" +
                    dumpLine(3, 3, 2) + "\n" + dumpLine(1, 4, -1, 5000) + "\n");
  const auto reports = merge(dumps);
  const Report& r = reports.at("abcd0123");
  EXPECT_TRUE(r.missing.empty());
  EXPECT_EQ(r.stuck.size(), 4u);
  EXPECT_EQ(r.suspects.front(), 2);
  EXPECT_EQ(toJson(r)["suspects"][0], 2);
}

TEST(PlexusTrace, ATruncatedDumpIsAnErrorNamingWhere) {
  std::string cut = dumpLine(0, 1, 1);
  cut.resize(cut.size() / 2);
  try {
    read("x\n" + cut + "\n");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("test:2: not a complete flight-recorder dump"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace plexus::trace
