// The blocking path allocates nothing: Engine::wait on finished works, and the turns a wait spends
// polling, yielding and sleeping while its peer is late, make no heap allocation. Counted by a
// replaced global operator new that counts only on the thread under test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <thread>

#include "algorithms/builders.hpp"
#include "base/error.hpp"
#include "engine/engine.hpp"
#include "fake_transport.hpp"

namespace {

thread_local bool tCounting = false;
std::atomic<long> gAllocations{0};

void* allocate(std::size_t n) {
  if (tCounting) gAllocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) {
  return allocate(n);
}
void* operator new[](std::size_t n) {
  return allocate(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace plexus::enginetest {
namespace {

constexpr uint32_t kSlotBytes = 256;
constexpr uint32_t kSlots = 4;
constexpr uint64_t kCount = 16;  // one piece

// The fake transport, but its waiter also has an fd to poll (as with sockets among the peers):
// the sleep then goes through the poll path as well as the doorbell.
class PollingProvider final : public engine::ConnectionProvider {
 public:
  explicit PollingProvider(FakeTransport& t) : inner_(t) {
    if (::pipe(pipe_) != 0) throw std::runtime_error("pipe failed");
  }
  ~PollingProvider() override {
    ::close(pipe_[0]);
    ::close(pipe_[1]);
  }
  transport::Connection* connect(int id, int peer) override { return inner_.connect(id, peer); }
  bool progressTransports() override { return inner_.progressTransports(); }
  transport::WakeSources wakeSources() const override {
    return {inner_.wakeSources().doorbell, true};
  }
  void addPollFds(std::vector<pollfd>& fds) override { fds.push_back({pipe_[0], POLLIN, 0}); }
  void abortTransports(const std::string& reason) override { inner_.abortTransports(reason); }

 private:
  FakeProvider inner_;
  int pipe_[2] = {-1, -1};
};

struct Rank {
  Rank(FakeNetwork& net, int r)
      : transport(net, r), provider(transport), engine(config(r), provider, abort) {
    algo::BuildRequest req;
    req.collective = algo::Collective::kAllReduce;
    req.nranks = 2;
    req.rank = r;
    req.count = kCount;
    req.fifoElems = uint64_t{kSlotBytes} * kSlots / sizeof(int32_t);
    req.nchannels = 1;
    plan = std::make_shared<algo::Plan>(algo::buildOneShot(req));
    input.resize(kCount);
    for (uint64_t i = 0; i < kCount; ++i) input[i] = (r + 1) * 100 + static_cast<int32_t>(i);
    output.assign(kCount, -1);
  }
  static engine::EngineConfig config(int r) {
    engine::EngineConfig c;
    c.rank = r;
    c.nranks = 2;
    c.slotBytes = kSlotBytes;
    c.timeout = std::chrono::milliseconds(120 * 1000);
    c.spin = std::chrono::microseconds(20);
    c.socketSpin = std::chrono::microseconds(20);
    c.yield = std::chrono::microseconds(200);  // the yield phase runs too, then sleeps
    c.context = formatString("rank %d of 2", r);
    return c;
  }
  engine::WorkPtr submit() {
    engine::WorkDesc d;
    d.plan = plan;
    d.input = input.data();
    d.output = output.data();
    d.type = DataType::kInt32;
    d.op = RedOp::kSum;
    d.count = kCount;
    return engine.submit(std::move(d));
  }
  void expectSums() const {
    for (uint64_t i = 0; i < kCount; ++i)
      EXPECT_EQ(output[i], 300 + 2 * static_cast<int32_t>(i)) << "element " << i;
  }

  FakeTransport transport;
  PollingProvider provider;
  std::atomic<bool> abort{false};
  engine::Engine engine;
  std::shared_ptr<algo::Plan> plan;
  std::vector<int32_t> input, output;
};

// One all-reduce on two ranks; rank 1 starts `lateBy` after rank 0 began waiting. Returns the
// allocations rank 0's thread made inside Engine::wait.
long allocationsInWait(std::chrono::milliseconds lateBy) {
  FakeNetwork net(2, kSlotBytes, kSlots);
  Rank r0(net, 0), r1(net, 1);
  // A first call on both ranks, rank 1 late: connections, queues and the buffers that keep their
  // capacity (the poll list, the stall check's list) are made here, once per engine.
  {
    std::thread t([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      engine::Engine::wait({{&r1.engine, r1.submit()}});
    });
    engine::Engine::wait({{&r0.engine, r0.submit()}});
    t.join();
  }
  std::vector<std::pair<engine::Engine*, engine::WorkPtr>> works{{&r0.engine, r0.submit()}};
  std::thread peer([&] {
    std::this_thread::sleep_for(lateBy);
    engine::Engine::wait({{&r1.engine, r1.submit()}});
  });
  gAllocations = 0;
  tCounting = true;
  engine::Engine::wait(works);
  tCounting = false;
  peer.join();
  EXPECT_EQ(works[0].second->state(), engine::Work::kDone) << works[0].second->errorMessage();
  r0.expectSums();
  r1.expectSums();
  // Waiting again on finished works allocates nothing at all.
  tCounting = true;
  engine::Engine::wait(works);
  tCounting = false;
  return gAllocations.load();
}

TEST(EngineAllocation, WaitingForALatePeerAllocatesNoMoreThanAPromptOne) {
  // Whatever starting the work allocates is the same in both runs; the turns rank 0 spends
  // polling, yielding and sleeping (hundreds of them over 300 ms, past the 200 ms peer check)
  // must add nothing.
  const long prompt = allocationsInWait(std::chrono::milliseconds(0));
  const long late = allocationsInWait(std::chrono::milliseconds(300));
  EXPECT_EQ(late, prompt);
}

TEST(EngineAllocation, WaitOnFinishedWorksAllocatesNothing) {
  FakeNetwork net(2, kSlotBytes, kSlots);
  Rank r0(net, 0), r1(net, 1);
  std::vector<std::pair<engine::Engine*, engine::WorkPtr>> works{{&r0.engine, r0.submit()},
                                                                 {&r1.engine, r1.submit()}};
  engine::Engine::wait(works);  // both ranks driven by this thread
  r0.expectSums();
  r1.expectSums();
  gAllocations = 0;
  tCounting = true;
  for (int i = 0; i < 100; ++i) engine::Engine::wait(works);
  tCounting = false;
  EXPECT_EQ(gAllocations.load(), 0);
}

}  // namespace
}  // namespace plexus::enginetest
