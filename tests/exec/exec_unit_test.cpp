// The step interpreter's pieces in one process: flattening, window layouts, and ranks as threads
// of one process (each with its own MappedExecutor and window) for the abort path.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "algorithms/registry.hpp"
#include "base/error.hpp"
#include "engine/exec/mapped_executor.hpp"
#include "engine/exec/window.hpp"
#include "tests/exec/exec_cases.hpp"

namespace plexus::exectest {
namespace {

using namespace engine::exec;

algo::Plan ringPlan(int rank, int n, uint64_t count, int channels, uint64_t fifoElems) {
  algo::BuildRequest q;
  q.collective = algo::Collective::kAllReduce;
  q.nranks = n;
  q.rank = rank;
  q.count = count;
  q.fifoElems = fifoElems;
  q.nchannels = channels;
  return algo::buildPlan("ring", q);
}

TEST(ExecPlan, FlattenKeepsStepsAndNamesFifos) {
  const algo::Plan p = ringPlan(1, 3, 1000, 2, 1024);
  const FlatPlan f = flatten(p, DataType::kFloat32, RedOp::kAvg, {1024, 4});
  ASSERT_EQ(f.header.nchannels, 2);
  EXPECT_EQ(static_cast<size_t>(f.header.nsteps), p.stepCount());
  EXPECT_EQ(f.header.elemSize, 4u);
  // A ring channel talks to its two neighbours: one receive and one send FIFO per channel.
  EXPECT_EQ(f.fifos.size(), 4u);
  for (const ExecStep& s : f.steps) {
    if (s.recvFifo >= 0) {
      EXPECT_EQ(f.fifos[static_cast<size_t>(s.recvFifo)].peer, 0);
      EXPECT_FALSE(f.fifos[static_cast<size_t>(s.recvFifo)].send);
    }
    if (s.sendFifo >= 0) {
      EXPECT_EQ(f.fifos[static_cast<size_t>(s.sendFifo)].peer, 2);
    }
  }
  EXPECT_EQ(f.channels[1].connection, 1);
}

TEST(ExecPlan, MessageLargerThanTheFifoIsRefused) {
  const algo::Plan p = ringPlan(0, 2, 100000, 1, 8192);  // messages of up to 4096 elements
  try {
    (void)flatten(p, DataType::kInt32, RedOp::kSum, {1024, 4});  // FIFO: 1024 elements
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than a FIFO of 4 slots"), std::string::npos)
        << e.what();
  }
}

TEST(ExecWindow, DirectoryRoundTripsAndFindsRegions) {
  std::vector<FifoKey> keys = {{1, 2, true}, {0, 2, false}, {0, 2, false}, {0, 1, true}};
  const WindowLayout w = WindowLayout::build(0, keys, 4, 1000);
  EXPECT_EQ(w.entries().size(), 3u);
  std::vector<unsigned char> mem(w.size(), 0);
  w.writeTo(mem.data(), 42);
  const WindowLayout r = WindowLayout::read(mem.data(), mem.size(), "test");
  EXPECT_EQ(r.size(), w.size());
  EXPECT_EQ(r.peers(), (std::vector<int>{1, 2}));
  ASSERT_TRUE(r.find(0, 2, false).has_value());
  EXPECT_EQ(*r.find(0, 2, false), *w.find(0, 2, false));
  EXPECT_FALSE(r.find(0, 2, true).has_value());
  EXPECT_EQ(slotStride(1000) % 64, 0u);
  mem[0] ^= 1;
  EXPECT_THROW(WindowLayout::read(mem.data(), mem.size(), "test"), Error);
}

// Ranks as threads: every rank's executor connects concurrently (connect waits for the peers).
std::vector<std::unique_ptr<MappedExecutor>> connectInProcess(int n, const FlatPlan* plans,
                                                              const std::atomic<bool>* abort) {
  std::vector<std::unique_ptr<MappedExecutor>> ex;
  std::vector<std::string> names;
  for (int r = 0; r < n; ++r) {
    MappedExecutorConfig cfg;
    cfg.rank = r;
    cfg.nranks = n;
    cfg.slotBytes = kSlotBytes;
    cfg.slots = kSlots;
    cfg.timeout = std::chrono::seconds(20);
    cfg.abort = abort;
    ex.push_back(std::make_unique<MappedExecutor>(cfg, plans[r].fifos));
    names.push_back(ex.back()->windowName());
  }
  std::vector<std::thread> t;
  for (int r = 0; r < n; ++r)
    t.emplace_back([&, r] { ex[static_cast<size_t>(r)]->connect(names); });
  for (auto& th : t) th.join();
  return ex;
}

TEST(ExecInProcess, RanksAsThreadsAllReduce) {
  constexpr int n = 3;
  constexpr uint64_t count = 3001;  // wraps the 4 x 1 KiB FIFO
  FlatPlan plans[n];
  for (int r = 0; r < n; ++r)
    plans[r] = flatten(ringPlan(r, n, count, 2, kSlotBytes * kSlots / 8), DataType::kInt64,
                       RedOp::kSum, {kSlotBytes, kSlots});
  auto ex = connectInProcess(n, plans, nullptr);
  std::vector<std::vector<int64_t>> data(n, std::vector<int64_t>(count));
  for (int rep = 0; rep < 3; ++rep) {  // counters persist across calls
    for (int r = 0; r < n; ++r)
      for (uint64_t i = 0; i < count; ++i)
        data[static_cast<size_t>(r)][i] = static_cast<int64_t>(i * 10 + static_cast<uint64_t>(r));
    std::vector<std::thread> t;
    for (int r = 0; r < n; ++r) {
      t.emplace_back([&, r] {
        auto& d = data[static_cast<size_t>(r)];
        ex[static_cast<size_t>(r)]->execute(plans[r], {d.data(), d.data(), nullptr});
      });
    }
    for (auto& th : t) th.join();
    for (int r = 0; r < n; ++r)
      for (uint64_t i = 0; i < count; ++i)
        ASSERT_EQ(data[static_cast<size_t>(r)][i], static_cast<int64_t>(i * 30 + 3))
            << r << " " << i;
  }
}

TEST(ExecInProcess, AbortEndsAWaitAndNamesIt) {
  constexpr int n = 2;
  FlatPlan plans[n];
  for (int r = 0; r < n; ++r)
    plans[r] =
        flatten(ringPlan(r, n, 100, 1, 256), DataType::kInt32, RedOp::kSum, {kSlotBytes, kSlots});
  std::atomic<bool> abort{false};
  auto ex = connectInProcess(n, plans, &abort);
  std::vector<int32_t> d(100, 1);
  auto done = std::async(std::launch::async, [&] {
    try {
      ex[0]->execute(plans[0], {d.data(), d.data(), nullptr});  // rank 1 never runs
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  abort.store(true);
  ASSERT_EQ(done.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const std::string msg = done.get();
  EXPECT_NE(msg.find("aborted waiting for data from rank 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank 0: allreduce (ring"), std::string::npos) << msg;
  // A broken executor refuses later calls with the first error.
  EXPECT_THROW(ex[0]->execute(plans[0], {d.data(), d.data(), nullptr}), Error);
}

}  // namespace
}  // namespace plexus::exectest
