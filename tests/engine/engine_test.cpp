// The engine on real plans, in one process: N ranks as threads, each with its own engine over the
// in-memory fake transport (fake_transport.hpp). Results are integers and checked exactly; a
// broken link must make the engines fail with errors that name the peer, within a bounded time.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <numeric>
#include <thread>

#include "algorithms/builders.hpp"
#include "engine/engine.hpp"
#include "fake_transport.hpp"

namespace plexus::enginetest {
namespace {

using Builder = algo::Plan (*)(const algo::BuildRequest&);

constexpr uint32_t kSlotBytes = 256;  // small slots: every step is cut into many pieces
constexpr uint32_t kSlots = 4;

struct RankResult {
  std::vector<int32_t> output;
  ErrorCode code = ErrorCode::kSuccess;
  std::string error;
};

// Runs one collective on `nranks` rank threads; rank r's input element i is (r + 1) * 1000 + i.
std::vector<RankResult> runCollective(int nranks, algo::Collective collective, Builder build,
                                      uint64_t count, int nchannels,
                                      std::chrono::milliseconds timeout,
                                      const std::function<void(FakeNetwork&)>& before = {},
                                      const std::function<void(engine::WorkDesc&)>& decorate = {}) {
  FakeNetwork net(nranks, kSlotBytes, kSlots);
  if (before) before(net);
  std::vector<RankResult> results(static_cast<size_t>(nranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < nranks; ++r) {
    threads.emplace_back([&, r] {
      algo::BuildRequest req;
      req.collective = collective;
      req.nranks = nranks;
      req.rank = r;
      req.count = count;
      req.fifoElems = uint64_t{kSlotBytes} * kSlots / sizeof(int32_t);
      req.nchannels = nchannels;
      auto plan = std::make_shared<algo::Plan>(build(req));
      std::vector<int32_t> input(plan->inputCount);
      for (size_t i = 0; i < input.size(); ++i) input[i] = (r + 1) * 1000 + static_cast<int>(i);
      RankResult& out = results[static_cast<size_t>(r)];
      out.output.assign(plan->outputCount, -1);

      FakeTransport transport(net, r);
      FakeProvider provider(transport);
      std::atomic<bool> abort{false};
      engine::EngineConfig config;
      config.rank = r;
      config.nranks = nranks;
      config.slotBytes = kSlotBytes;
      config.timeout = timeout;
      config.spin = std::chrono::microseconds(20);
      config.context = formatString("rank %d of %d", r, nranks);
      engine::Engine engine(config, provider, abort);
      engine::WorkDesc d;
      d.plan = plan;
      d.input = input.data();
      d.output = out.output.data();
      d.type = DataType::kInt32;
      d.op = RedOp::kSum;
      d.count = count;
      if (decorate) decorate(d);
      engine::WorkPtr work = engine.submit(std::move(d));
      engine::Engine::wait({{&engine, work}});
      if (work->state() == engine::Work::kFailed) {
        out.code = work->errorCode();
        out.error = work->errorMessage();
      }
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

int32_t inputOf(int rank, uint64_t i) {
  return (rank + 1) * 1000 + static_cast<int32_t>(i);
}

struct Case {
  const char* name;
  Builder build;
  int nranks;
  int nchannels;
};

class AllReduce : public ::testing::TestWithParam<Case> {};

TEST_P(AllReduce, SumsExactly) {
  const Case& c = GetParam();
  const uint64_t count = 1000;  // 4000 bytes: 16 pieces of 256
  auto results = runCollective(c.nranks, algo::Collective::kAllReduce, c.build, count, c.nchannels,
                               std::chrono::seconds(20));
  for (int r = 0; r < c.nranks; ++r) {
    const RankResult& res = results[static_cast<size_t>(r)];
    ASSERT_EQ(res.code, ErrorCode::kSuccess) << "rank " << r << ": " << res.error;
    ASSERT_EQ(res.output.size(), count);
    for (uint64_t i = 0; i < count; ++i) {
      int32_t want = 0;
      for (int p = 0; p < c.nranks; ++p) want += inputOf(p, i);
      ASSERT_EQ(res.output[i], want) << "rank " << r << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Plans, AllReduce,
    ::testing::Values(Case{"ring_1", algo::buildRing, 1, 1}, Case{"ring_3", algo::buildRing, 3, 2},
                      Case{"ring_4", algo::buildRing, 4, 1}, Case{"ring_5", algo::buildRing, 5, 2},
                      Case{"recursive_5", algo::buildRecursive, 5, 1},
                      Case{"tree_3", algo::buildTree, 3, 2},
                      Case{"oneshot_3", algo::buildOneShot, 3, 1}),
    [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

// WorkDesc::poll: a work whose poll answers kWaiting for a while (longer than the engine's
// timeout: the stall check leaves it alone) and then kRunPlan runs its plan exactly; one whose
// poll answers kDone completes without running a step (its output keeps what the poll wrote).
TEST(EnginePoll, RunsThePlanOrSkipsItAsThePollAnswers) {
  const uint64_t count = 1000;
  for (const auto answer : {engine::WorkDesc::Poll::kRunPlan, engine::WorkDesc::Poll::kDone}) {
    auto results = runCollective(
        3, algo::Collective::kAllReduce, algo::buildRing, count, 2, std::chrono::milliseconds(100),
        {}, [answer](engine::WorkDesc& d) {
          auto until = std::make_shared<std::chrono::steady_clock::time_point>();
          d.gate = [until] {
            *until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
          };
          auto* out = static_cast<int32_t*>(d.output);
          d.poll = [until, answer, out] {
            if (std::chrono::steady_clock::now() < *until) return engine::WorkDesc::Poll::kWaiting;
            if (answer == engine::WorkDesc::Poll::kDone) out[0] = 77;
            return answer;
          };
        });
    const bool ran = answer == engine::WorkDesc::Poll::kRunPlan;
    for (int r = 0; r < 3; ++r) {
      const RankResult& res = results[static_cast<size_t>(r)];
      ASSERT_EQ(res.code, ErrorCode::kSuccess) << "rank " << r << ": " << res.error;
      for (uint64_t i = 0; i < count; ++i) {
        const int32_t want = ran ? inputOf(0, i) + inputOf(1, i) + inputOf(2, i) : i == 0 ? 77 : -1;
        ASSERT_EQ(res.output[i], want)
            << (ran ? "run" : "done") << ", rank " << r << " element " << i;
      }
    }
  }
}

class AllGather : public ::testing::TestWithParam<Case> {};

TEST_P(AllGather, GathersExactly) {
  const Case& c = GetParam();
  const uint64_t count = 300;  // per rank
  auto results = runCollective(c.nranks, algo::Collective::kAllGather, c.build, count, c.nchannels,
                               std::chrono::seconds(20));
  for (int r = 0; r < c.nranks; ++r) {
    const RankResult& res = results[static_cast<size_t>(r)];
    ASSERT_EQ(res.code, ErrorCode::kSuccess) << "rank " << r << ": " << res.error;
    ASSERT_EQ(res.output.size(), count * static_cast<uint64_t>(c.nranks));
    for (int p = 0; p < c.nranks; ++p)
      for (uint64_t i = 0; i < count; ++i)
        ASSERT_EQ(res.output[static_cast<uint64_t>(p) * count + i], inputOf(p, i))
            << "rank " << r << " block " << p << " element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Plans, AllGather,
                         ::testing::Values(Case{"ring_1", algo::buildRing, 1, 1},
                                           Case{"ring_3", algo::buildRing, 3, 2},
                                           Case{"ring_5", algo::buildRing, 5, 1},
                                           Case{"bruck_5", algo::buildBruck, 5, 1}),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           return std::string(p.param.name);
                         });

TEST(EngineFailure, BrokenConnectionNamesThePeerWithoutHanging) {
  // Rank 0's link to rank 1 breaks before anything moves: on a ring of 3 both ends of that link
  // fail naming the other, and rank 2 learns of the failure from the abort it relays.
  const auto start = std::chrono::steady_clock::now();
  auto results =
      runCollective(3, algo::Collective::kAllReduce, algo::buildRing, 1000, 1,
                    std::chrono::seconds(5), [](FakeNetwork& net) { net.breakLink(0, 1); });
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(15)) << "failing took longer than the engine's timeout";
  const RankResult& r0 = results[0];
  const RankResult& r1 = results[1];
  EXPECT_EQ(r0.code, ErrorCode::kRemote) << r0.error;
  EXPECT_NE(r0.error.find("rank 1 (in-process) over fake"), std::string::npos) << r0.error;
  EXPECT_NE(r0.error.find("link broke"), std::string::npos) << r0.error;
  EXPECT_EQ(r1.code, ErrorCode::kRemote) << r1.error;
  EXPECT_NE(r1.error.find("rank 0 (in-process) over fake"), std::string::npos) << r1.error;
  // Rank 2 fails too (the ring cannot finish), naming who it waited for or who aborted.
  EXPECT_NE(results[2].code, ErrorCode::kSuccess);
  EXPECT_NE(results[2].error.find("rank "), std::string::npos) << results[2].error;
}

TEST(EngineFailure, StalledPeerTimesOutNamingWhatItWaitsFor) {
  // Rank 1 never runs its side: rank 0's wait ends after the engine's timeout, naming rank 1.
  FakeNetwork net(2, kSlotBytes, kSlots);
  algo::BuildRequest req;
  req.nranks = 2;
  req.rank = 0;
  req.count = 100;
  req.fifoElems = uint64_t{kSlotBytes} * kSlots / sizeof(int32_t);
  auto plan = std::make_shared<algo::Plan>(algo::buildRing(req));
  std::vector<int32_t> in(plan->inputCount, 1), out(plan->outputCount, 0);
  FakeTransport transport(net, 0);
  FakeProvider provider(transport);
  std::atomic<bool> abort{false};
  engine::EngineConfig config;
  config.nranks = 2;
  config.slotBytes = kSlotBytes;
  config.timeout = std::chrono::milliseconds(500);
  config.context = "rank 0 of 2";
  engine::Engine engine(config, provider, abort);
  engine::WorkDesc d;
  d.plan = plan;
  d.input = in.data();
  d.output = out.data();
  d.type = DataType::kInt32;
  d.count = 100;
  const auto start = std::chrono::steady_clock::now();
  engine::WorkPtr work = engine.submit(std::move(d));
  engine::Engine::wait({{&engine, work}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(work->state(), engine::Work::kFailed);
  EXPECT_NE(work->errorMessage().find("no progress"), std::string::npos) << work->errorMessage();
  EXPECT_NE(work->errorMessage().find("rank 1"), std::string::npos) << work->errorMessage();
  // The engine asked its provider for each connection once: the cache is the provider's.
  EXPECT_LE(transport.connectionsMade(), 1u);
}

}  // namespace
}  // namespace plexus::enginetest
