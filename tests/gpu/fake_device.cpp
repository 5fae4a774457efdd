// The fake device memory, pointer query and stream operations of fake_device.hpp.
#include "tests/gpu/fake_device.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "base/memory_kind_testing.hpp"
#include "runtime/device_ops.hpp"

namespace plexus::testing {
namespace {

std::mutex gMemMutex;
std::map<uintptr_t, size_t> gDeviceRanges;
std::atomic<uint64_t> gFlagWrites{0};

PointerInfo fakeQuery(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(gMemMutex);
  auto it = gDeviceRanges.upper_bound(a);
  if (it == gDeviceRanges.begin()) return {};
  --it;
  if (a >= it->first + it->second) return {};
  return PointerInfo{MemoryKind::kDevice, it->first, it->second};
}

// Spins (then sleeps) until `pred`; a fake GPU that waits a minute is a test failure.
template <typename Pred>
void spinUntil(Pred pred, const char* what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "fake stream: %s never happened (a stream would hang)\n", what);
      std::abort();
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

class FakeStreamOps final : public runtime::StreamOps {
 public:
  void* allocPinned(size_t bytes) override {
    void* p = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  // A fake stream may still read it (released streams run on); tests are short processes.
  void freePinned(void* p) noexcept override {
    std::lock_guard<std::mutex> lock(gMemMutex);
    graveyard().push_back(p);
  }
  bool capturing(void* stream) override { return FakeStream::of(stream)->capturing; }
  void copy(void* stream, void* dst, const void* src, size_t bytes) override {
    FakeStream::of(stream)->enqueue([=] { std::memcpy(dst, src, bytes); });
  }
  void writeFlag(void* stream, uint64_t* flag, uint64_t value) override {
    gFlagWrites.fetch_add(1);
    FakeStream::of(stream)->enqueue(
        [=] { std::atomic_ref<uint64_t>(*flag).store(value, std::memory_order_release); });
  }
  void waitFlag(void* stream, uint64_t* flag, uint64_t value) override {
    FakeStream::of(stream)->enqueue([=] {
      spinUntil(
          [&] {
            uint64_t v = std::atomic_ref<uint64_t>(*flag).load(std::memory_order_acquire);
            return static_cast<int64_t>(v - value) >= 0;
          },
          "the done flag");
    });
  }
  void streamWaitStream(void* waiter, void* waitee) override {
    auto signal = std::make_shared<std::atomic<bool>>(false);
    FakeStream::of(waitee)->enqueue([signal] { signal->store(true); });
    FakeStream::of(waiter)->enqueue(
        [signal] { spinUntil([&] { return signal->load(); }, "join"); });
  }

 private:
  static std::vector<void*>& graveyard() {
    static std::vector<void*> g;
    return g;
  }
};

std::unique_ptr<runtime::StreamOps> makeFake() {
  return std::make_unique<FakeStreamOps>();
}

}  // namespace

void* fakeDeviceAlloc(size_t bytes) {
  void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  std::lock_guard<std::mutex> lock(gMemMutex);
  gDeviceRanges[reinterpret_cast<uintptr_t>(p)] = bytes == 0 ? 1 : bytes;
  return p;
}

// Kept: an address that was fake device memory must not come back as host memory (the classifier
// caches both; on a real GPU the two never share addresses). Rank processes are short.
void fakeDeviceFree(void*) {}

void installFakeDevice() {
  setPointerQuery(fakeQuery);
  runtime::testing::setStreamOpsFactory(makeFake);
}

void installFakeClassifierOnly() {
  setPointerQuery(fakeQuery);
  runtime::testing::setStreamOpsFactory(nullptr);
}

uint64_t fakeFlagWrites() {
  return gFlagWrites.load();
}

FakeStream::FakeStream() : thread_([this] { run(); }) {}

FakeStream::~FakeStream() {
  openGate();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void FakeStream::enqueue(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (gate_) {
      auto gate = gate_;
      queue_.push_back([gate] { spinUntil([&] { return gate->load(); }, "the gate"); });
      ++queued_;
      gate_.reset();
    }
    queue_.push_back(std::move(fn));
    ++queued_;
  }
  cv_.notify_all();
}

bool FakeStream::synchronize(double seconds) {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t target = queued_;
  return cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                      [&] { return done_ >= target; });
}

void FakeStream::closeGate() {
  std::lock_guard<std::mutex> lock(mutex_);
  gate_ = std::make_shared<std::atomic<bool>>(false);
  openers_.push_back(gate_);
}

void FakeStream::openGate() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& g : openers_) g->store(true);
  openers_.clear();
}

void FakeStream::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    fn();
    lock.lock();
    ++done_;
    cv_.notify_all();
  }
}

}  // namespace plexus::testing
