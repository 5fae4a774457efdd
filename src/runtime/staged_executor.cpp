// The staged device path: enqueue side (user thread) and the proxy thread.
#include "runtime/staged_executor.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "base/log.hpp"
#include "base/memory_kind.hpp"
#include "runtime/communicator.hpp"
#include "runtime/staged_layout.hpp"

namespace plexus::runtime {
namespace {

constexpr size_t kAlign = 256;
constexpr size_t kMinBlock = 64 * 1024;

size_t alignUp(size_t n) {
  return (n + kAlign - 1) / kAlign * kAlign;
}

bool reached(uint64_t value, uint64_t target) {  // the wrapping >= of cuStreamWaitValue64
  return static_cast<int64_t>(value - target) >= 0;
}

// Both buffer sizes of an operation, as its root (rooted collectives) sees them.
BufferUse fullUse(const OpArgs& a, int rank, int nranks) {
  return bufferUse(a, rooted(a.collective) ? a.root : rank, nranks);
}

}  // namespace

StagedExecutor::StagedExecutor(Communicator& comm, std::unique_ptr<StreamOps> ops,
                               std::chrono::milliseconds timeout)
    : comm_(comm), ops_(std::move(ops)), timeout_(timeout) {
  proxy_ = std::thread([this] { proxyLoop(); });
  PLEXUS_INFO(subsys::kColl, "%s: staged device path started (proxy thread, %llu ready slots)",
              comm_.context().c_str(), static_cast<unsigned long long>(kSlots));
}

StagedExecutor::~StagedExecutor() {
  if (!drain())
    PLEXUS_WARN(subsys::kColl,
                "%s: destroying the communicator with staged device operations unfinished after "
                "%lld ms; their streams are released with wrong results",
                comm_.context().c_str(), static_cast<long long>(timeout_.count()));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  cv_.notify_all();
  releaseStreams();
  proxy_.join();
  // After the release every stream runs to its end; freeing pinned memory waits for it.
  for (auto& [size, b] : pool_) ops_->freePinned(b.ptr);
  if (flags_ != nullptr) ops_->freePinned(flags_);
}

std::string StagedExecutor::asyncErrorMessage() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return errorMessage_;
}

void StagedExecutor::checkUsable(const std::vector<Op>& ops) const {
  if (errorCode_.load() != 0)
    throwError(asyncError(), "%s: the staged device path failed earlier: %s",
               comm_.context().c_str(), asyncErrorMessage().c_str());
  for (const Op& op : ops)
    if (ops_->capturing(op.stream))
      throwError(ErrorCode::kInvalidUsage,
                 "%s: %s on a stream that is being captured into a CUDA graph: Plexus's staged "
                 "device path (host staging through a proxy thread) cannot be captured; run the "
                 "collective outside the capture (docs/gpu.md, \"Device buffers (staged path)\")",
                 comm_.context().c_str(), algo::collectiveName(op.args.collective));
}

void StagedExecutor::enqueue(const std::vector<Op>& ops) {
  if (ops.empty()) return;
  std::lock_guard<std::mutex> serial(enqueueMutex_);
  checkUsable(ops);
  if (flags_ == nullptr) {
    // Allocated here, after the capture check: inside a capture, allocating may be refused.
    auto* f = static_cast<uint64_t*>(ops_->allocPinned((kSlots + 1) * sizeof(uint64_t)));
    std::memset(f, 0, (kSlots + 1) * sizeof(uint64_t));
    std::lock_guard<std::mutex> lock(mutex_);
    flags_ = f;
  }
  uint64_t seq = enqueued_.load() + 1;
  waitForSlot(seq);
  Round r;
  try {
    r = stage(ops, seq);
  } catch (const Error& e) {
    // A half-enqueued round cannot be taken back: the path is broken, release the streams.
    fail(e.code(), e.what());
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(r));
    enqueued_.store(seq);
  }
  cv_.notify_all();
}

StagedExecutor::Round StagedExecutor::stage(const std::vector<Op>& ops, uint64_t seq) {
  int rank = comm_.rank(), nranks = comm_.nranks();
  Round r;
  r.seq = seq;
  std::vector<size_t> inOff(ops.size()), outOff(ops.size());
  size_t total = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    const OpArgs& a = ops[i].args;
    BufferUse full = fullUse(a, rank, nranks);
    bool inPlace = a.input != nullptr && a.input == a.output;
    inOff[i] = total;
    total += alignUp(inPlace ? std::max(full.inputBytes, full.outputBytes) : full.inputBytes);
    outOff[i] = inPlace ? inOff[i] : total;
    if (!inPlace) total += alignUp(full.outputBytes);
  }
  r.staging = takeBlock(total);
  auto* base = static_cast<std::byte*>(r.staging.ptr);
  void* main = ops.front().stream;
  std::vector<void*> others;  // the other streams of a group, each once
  for (const Op& op : ops)
    if (op.stream != main && std::find(others.begin(), others.end(), op.stream) == others.end())
      others.push_back(op.stream);
  for (void* other : others) ops_->streamWaitStream(main, other);
  for (size_t i = 0; i < ops.size(); ++i) {
    OpArgs h = ops[i].args;
    BufferUse used = bufferUse(h, rank, nranks);
    if (h.input != nullptr && used.inputBytes > 0)
      ops_->copy(main, base + inOff[i], h.input, used.inputBytes);
    h.input = h.input != nullptr ? base + inOff[i] : nullptr;
    h.output = h.output != nullptr ? base + outOff[i] : nullptr;
    r.ops.push_back(h);
  }
  ops_->writeFlag(main, readySlot(seq), seq);
  ops_->waitFlag(main, doneWord(), seq);
  for (size_t i = 0; i < ops.size(); ++i) {
    BufferUse used = bufferUse(ops[i].args, rank, nranks);
    if (ops[i].args.output != nullptr && used.outputBytes > 0)
      ops_->copy(main, ops[i].args.output, base + outOff[i], used.outputBytes);
  }
  for (void* other : others) ops_->streamWaitStream(other, main);
  return r;
}

// Staging blocks are never freed while the communicator lives: freeing pinned memory may wait for
// the device, and the device may be waiting for this proxy.
StagedExecutor::Block StagedExecutor::takeBlock(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pool_.lower_bound(bytes);
    if (it != pool_.end()) {
      Block b = it->second;
      pool_.erase(it);
      return b;
    }
  }
  size_t size = kMinBlock;
  while (size < bytes) size *= 2;
  return Block{ops_->allocPinned(size), size};
}

void StagedExecutor::giveBlock(Block b) {
  if (b.ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  pool_.emplace(b.bytes, b);
}

bool StagedExecutor::waitCounter(const std::atomic<uint64_t>& counter, uint64_t target) {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::unique_lock<std::mutex> lock(mutex_);
  while (counter.load() < target) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return true;
}

void StagedExecutor::waitForSlot(uint64_t seq) {
  if (seq <= kSlots) return;
  if (!waitCounter(finished_, seq - kSlots))
    throwError(ErrorCode::kSystem,
               "%s: %llu staged device operations are waiting for their streams; none finished "
               "within %lld ms (PLEXUS_TIMEOUT): are the streams blocked?",
               comm_.context().c_str(), static_cast<unsigned long long>(kSlots),
               static_cast<long long>(timeout_.count()));
}

void StagedExecutor::waitSubmitted() {
  if (submitted_.load() >= enqueued_.load()) return;
  if (!waitCounter(submitted_, enqueued_.load()))
    throwError(ErrorCode::kSystem,
               "%s: a host-buffer operation waits for earlier device-buffer operations of this "
               "communicator, whose streams did not reach them within %lld ms (PLEXUS_TIMEOUT)",
               comm_.context().c_str(), static_cast<long long>(timeout_.count()));
}

bool StagedExecutor::drain() {
  return waitCounter(finished_, enqueued_.load());
}

void StagedExecutor::abort(const std::string& reason) {
  fail(ErrorCode::kRemote, comm_.context() + ": " + reason);
  cv_.notify_all();
}

void StagedExecutor::fail(ErrorCode code, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (errorCode_.load() == 0) {
      errorMessage_ = message;
      errorCode_.store(static_cast<int>(code));
    }
  }
  PLEXUS_WARN(subsys::kColl,
              "staged device path: %s; releasing its streams (their results are wrong)",
              message.c_str());
  releaseStreams();
}

void StagedExecutor::releaseStreams() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (flags_ == nullptr) return;  // nothing was ever enqueued
  std::atomic_ref<uint64_t>(*doneWord())
      .store(kReleased + enqueued_.load(), std::memory_order_release);
}

void StagedExecutor::proxyLoop() {
  for (;;) {
    Round r;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (queue_.empty() && !stop_.load()) cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (queue_.empty()) return;
      r = std::move(queue_.front());
      queue_.pop_front();
    }
    runRound(r);
    finishRound(r);
  }
}

bool StagedExecutor::waitReady(const Round& r) {
  std::atomic_ref<uint64_t> slot(*readySlot(r.seq));
  auto start = std::chrono::steady_clock::now();
  for (uint32_t spins = 0;; ++spins) {
    if (reached(slot.load(std::memory_order_acquire), r.seq)) return true;
    if (errorCode_.load() != 0) return false;
    if (stop_.load()) {
      fail(ErrorCode::kInvalidUsage,
           comm_.context() +
               ": the communicator was destroyed before the stream reached a staged "
               "device operation");
      return false;
    }
    if (spins < 2000) continue;
    auto waited = std::chrono::steady_clock::now() - start;
    if (waited > timeout_) {
      fail(ErrorCode::kSystem,
           formatString("%s: the stream did not reach staged round %llu (%s) within %lld ms "
                        "(PLEXUS_TIMEOUT): earlier work on the stream is still running or blocked",
                        comm_.context().c_str(), static_cast<unsigned long long>(r.seq),
                        r.ops.empty() ? "?" : algo::collectiveName(r.ops.front().collective),
                        static_cast<long long>(timeout_.count())));
      return false;
    }
    std::this_thread::sleep_for(waited < std::chrono::milliseconds(1)
                                    ? std::chrono::microseconds(5)
                                    : std::chrono::microseconds(200));
  }
}

void StagedExecutor::runRound(Round& r) {
  if (errorCode_.load() != 0 || !waitReady(r)) return;
  std::vector<engine::WorkPtr> works;
  try {
    for (const OpArgs& a : r.ops) works.push_back(comm_.submit(a, true));
    if (comm_.hasUnmatchedSelfP2P())
      fail(ErrorCode::kInvalidUsage,
           comm_.context() +
               ": a staged send to or receive from this rank itself has no matching "
               "receive/send in the same group");
  } catch (const Error& e) {
    fail(e.code(), e.what());
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    submitted_.store(r.seq);
  }
  cv_.notify_all();
  // The engine bounds every work (PLEXUS_TIMEOUT without progress) and abort fails them all.
  for (auto& w : works) {
    while (!w->finished()) w->waitFinished(std::chrono::milliseconds(100));
    if (w->state() == engine::Work::kFailed) fail(w->errorCode(), w->errorMessage());
  }
}

void StagedExecutor::finishRound(Round& r) {
  if (errorCode_.load() == 0)
    std::atomic_ref<uint64_t>(*doneWord()).store(r.seq, std::memory_order_release);
  else
    releaseStreams();
  giveBlock(r.staging);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (submitted_.load() < r.seq) submitted_.store(r.seq);
    finished_.store(r.seq);
  }
  cv_.notify_all();
}

}  // namespace plexus::runtime
