// Plan files: export of every built-in algorithm, load with verification, expansion to larger
// counts (verified), round trip, parse errors, and broken plans rejected with the file, rank,
// step and range; custom algorithms in the registry and the tuner; PLEXUS_PLAN_FILE.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "algorithms/plan_file.hpp"
#include "algorithms/registry.hpp"
#include "algorithms/tuner.hpp"
#include "algorithms/verifier.hpp"
#include "base/error.hpp"
#include "base/log.hpp"

namespace plexus::algo {
namespace {

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A temporary file that is removed when it goes out of scope.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/plexus-plan-XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

TEST(PlanFile, ExportLoadExpandEveryAlgorithm) {
  for (const AlgorithmInfo& a : algorithmTable()) {
    for (int n : {1, 3, 5}) {
      ExportOptions o;
      o.collective = a.collective;
      o.algorithm = a.name;
      o.nranks = n;
      o.root = n / 2;
      o.nchannels = 2;
      o.name = std::string("my") + a.name;
      SCOPED_TRACE(::testing::Message()
                   << a.name << " " << collectiveName(a.collective) << " n=" << n);
      const std::string json = exportPlanJson(o);
      std::vector<PlanTemplate> ts = parsePlanJson(json, "export.json");
      ASSERT_EQ(ts.size(), 1u);
      EXPECT_EQ(planFileJson(ts), json);  // stable round trip
      const PlanTemplate t = ts[0];
      PlanLibrary lib;
      ASSERT_NO_THROW(lib.add(ts[0]));
      EXPECT_EQ(lib.namesFor(a.collective), std::vector<std::string>{o.name});
      // Larger counts, several FIFO sizes: the expansion verifies.
      for (uint64_t mult : {uint64_t{1}, uint64_t{3}, uint64_t{7}}) {
        for (uint64_t fifoPerUnit : {uint64_t{1}, uint64_t{2}, uint64_t{5}}) {
          BuildRequest q;
          q.collective = a.collective;
          q.nranks = n;
          q.root = o.root;
          q.count = a.collective == Collective::kBarrier ? 0 : t.chunks * mult;
          q.fifoElems = t.fifoUnits * fifoPerUnit;
          const std::string why = lib.unsupported(o.name, q);
          if (!why.empty()) {
            EXPECT_NE(why.find("cross count boundaries"), std::string::npos) << why;
            continue;
          }
          const Builder b = [&](const BuildRequest& r) { return buildPlan(o.name, r, &lib); };
          const VerifyReport rep = verifyBuilder(b, q);
          ASSERT_TRUE(rep.ok) << "count " << q.count << " fifo " << q.fifoElems << "\n"
                              << rep.text();
        }
      }
    }
  }
}

TEST(PlanFile, RejectsBrokenPlansNamingFileRankStepRange) {
  ExportOptions o;
  o.algorithm = "ring";
  o.nranks = 4;
  o.name = "myring";
  nlohmann::json j = nlohmann::json::parse(exportPlanJson(o));
  auto& steps2 = j["plans"][0]["ranks"][2]["channels"][0]["steps"];

  // Dropped step.
  nlohmann::json dropped = j;
  dropped["plans"][0]["ranks"][2]["channels"][0]["steps"].erase(0);
  TempFile f1(dropped.dump());
  std::string e = errorOf([&] { loadPlanFile(f1.path); });
  EXPECT_NE(e.find(f1.path + ": plan 'myring' (allreduce, 4 ranks) is wrong"), std::string::npos)
      << e;
  EXPECT_NE(e.find("rank "), std::string::npos) << e;

  // Wrong peer.
  nlohmann::json wrongPeer = j;
  wrongPeer["plans"][0]["ranks"][2]["channels"][0]["steps"][0]["to"] = 0;
  TempFile f2(wrongPeer.dump());
  e = errorOf([&] { loadPlanFile(f2.path); });
  EXPECT_NE(e.find("is wrong"), std::string::npos) << e;
  // Rank 0 now receives rank 2's partial sum out of turn: the verifier names where it shows.
  EXPECT_NE(e.find("channel 0 step "), std::string::npos) << e;
  EXPECT_NE(e.find("at output["), std::string::npos) << e;

  // Double-counted chunk: rank 2's first send carries the chunk it reduces later.
  nlohmann::json doubled = j;
  ASSERT_EQ(steps2[0]["op"], "send");
  doubled["plans"][0]["ranks"][2]["channels"][0]["steps"][1]["src"] =
      steps2[0]["src"];  // recvReduceSend reduces the chunk it already sent
  TempFile f3(doubled.dump());
  e = errorOf([&] { loadPlanFile(f3.path); });
  EXPECT_NE(e.find("is wrong"), std::string::npos) << e;
  EXPECT_NE(e.find("output["), std::string::npos) << e;  // the range that comes out wrong

  // The correct file loads.
  TempFile ok(j.dump());
  const PlanLibrary lib = loadPlanFile(ok.path);
  EXPECT_EQ(lib.templates().size(), 1u);
}

TEST(PlanFile, ParseErrors) {
  auto parseErr = [](const std::string& text) {
    return errorOf([&] { parsePlanJson(text, "f.json"); });
  };
  EXPECT_NE(parseErr("{").find("f.json: not valid JSON"), std::string::npos);
  EXPECT_NE(parseErr("{}").find("not a Plexus plan file"), std::string::npos);
  EXPECT_NE(parseErr(R"({"plexus_plan": 2, "plans": []})").find("version 2 is not supported"),
            std::string::npos);
  const std::string head =
      R"({"plexus_plan": 1, "plans": [{"name": "x", "collective": "allreduce", "nranks": 2,
          "chunks": 2, "fifo_units": 2, "ranks": [)";
  auto withRank1Step = [&](const std::string& step) {
    return head +
           R"({"rank": 0, "channels": [{"steps": []}]},
              {"rank": 1, "channels": [{"steps": [)" +
           step + "]}]}]}]}";
  };
  EXPECT_NE(parseErr(withRank1Step(R"({"op": "jump"})"))
                .find("f.json: plan 'x' rank 1 channel 0 step 0: unknown op \"jump\""),
            std::string::npos);
  EXPECT_NE(parseErr(withRank1Step(R"({"op": "send", "src": ["input", 0, 1]})"))
                .find("missing integer \"to\""),
            std::string::npos);
  EXPECT_NE(parseErr(withRank1Step(R"({"op": "send", "to": 0, "src": ["inbox", 0, 1]})"))
                .find("names buffer \"inbox\""),
            std::string::npos);
  EXPECT_NE(
      parseErr(withRank1Step(R"({"op": "send", "to": 0, "src": [0, 1]})")).find("\"src\" must be"),
      std::string::npos);
  EXPECT_NE(parseErr(R"({"plexus_plan": 1, "plans": [{"name": "ring", "collective": "allreduce",
                         "nranks": 1, "chunks": 1, "fifo_units": 1, "ranks": []}]})")
                .find("'ring' is a built-in allreduce algorithm"),
            std::string::npos);
  EXPECT_NE(parseErr(R"({"plexus_plan": 1, "plans": [{"name": "b", "collective": "broadcast",
                         "nranks": 2, "chunks": 1, "fifo_units": 1, "ranks": []}]})")
                .find("missing \"root\""),
            std::string::npos);
  EXPECT_NE(errorOf([] {
              loadPlanFile("/nonexistent/plan.json");
            }).find("plan file /nonexistent/plan.json: cannot open it"),
            std::string::npos);
}

TEST(PlanFile, UnsupportedShapesAndTheTuner) {
  ExportOptions o;
  o.algorithm = "tree";
  o.nranks = 4;
  o.name = "mytree";
  PlanLibrary lib;
  for (PlanTemplate& t : parsePlanJson(exportPlanJson(o), "x.json")) lib.add(std::move(t));
  const PlanTemplate& t = lib.templates()[0];
  BuildRequest q;
  q.nranks = 4;
  q.count = t.chunks * 3 + 1;
  q.fifoElems = 1 << 10;
  EXPECT_NE(lib.unsupported("mytree", q).find("is not a multiple"), std::string::npos);
  q.count = t.chunks;
  q.fifoElems = t.fifoUnits - 1;
  EXPECT_NE(lib.unsupported("mytree", q).find("the FIFO holds"), std::string::npos);
  q.nranks = 5;
  q.rank = 0;
  EXPECT_NE(lib.unsupported("mytree", q).find("no plan 'mytree' for allreduce on 5 ranks"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { buildPlan("mytree", q, &lib); }).find("custom algorithm 'mytree'"),
            std::string::npos);
  // The tuner prefers an applicable custom plan; PLEXUS_ALGO can exclude it.
  TuneRequest tq;
  tq.nranks = 4;
  tq.count = t.chunks * 1000;
  tq.fifoElems = 1 << 16;
  TuneResult r = evaluate(tq, TopologyCosts::sharedMemoryHost(), {}, &lib);
  EXPECT_EQ(r.best.algorithm, "mytree");
  EXPECT_TRUE(r.best.custom);
  r = evaluate(tq, TopologyCosts::sharedMemoryHost(), AlgoFilter::parse("^mytree", &lib), &lib);
  EXPECT_NE(r.best.algorithm, "mytree");
  tq.count += 1;  // not a multiple: the built-ins
  r = evaluate(tq, TopologyCosts::sharedMemoryHost(), {}, &lib);
  EXPECT_FALSE(r.best.custom);
  EXPECT_EQ(algorithmsFor(Collective::kAllReduce, &lib).back(), "mytree");
  // Loading the same plan twice is an error.
  EXPECT_NE(errorOf([&] { lib.add(lib.templates()[0]); }).find("is already loaded"),
            std::string::npos);
}

TEST(PlanFile, FromEnvironment) {
  ExportOptions o;
  o.algorithm = "rhd";
  o.nranks = 3;
  o.name = "myrhd";
  TempFile f(exportPlanJson(o));
  ::setenv("PLEXUS_PLAN_FILE", f.path.c_str(), 1);
  const PlanLibrary lib = loadPlanFileFromEnv(3);
  ::unsetenv("PLEXUS_PLAN_FILE");
  EXPECT_TRUE(lib.has(Collective::kAllReduce, "MyRhd"));
  EXPECT_TRUE(loadPlanFileFromEnv(3).empty());
}

// The warning for a plan file without plans for this world size counts in the right number.
TEST(PlanFile, FromEnvironmentWarningSaysOnePlan) {
  ExportOptions o;
  o.algorithm = "rhd";
  o.nranks = 3;
  o.name = "myrhd";
  TempFile f(exportPlanJson(o));
  TempFile log("");
  ::setenv("PLEXUS_PLAN_FILE", f.path.c_str(), 1);
  ::setenv("PLEXUS_DEBUG", "WARN", 1);
  ::setenv("PLEXUS_DEBUG_FILE", log.path.c_str(), 1);
  logReset();
  EXPECT_FALSE(loadPlanFileFromEnv(5).empty());
  ::unsetenv("PLEXUS_PLAN_FILE");
  ::unsetenv("PLEXUS_DEBUG");
  ::unsetenv("PLEXUS_DEBUG_FILE");
  logReset();
  std::ifstream in(log.path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("holds 1 plan, none for 5 ranks"), std::string::npos) << text;
}

}  // namespace
}  // namespace plexus::algo
