// The staged device-buffer path: collectives on device memory, enqueued on the user's stream and
// run by the host engine over pinned host staging, so that they work over every transport.
//
// One round (one call, or the calls of one communicator in an ncclGroupStart/End) is enqueued on
// the stream as: copies device -> staging of every input; a stream write of the round's sequence
// number to its ready slot; a stream wait until the done word reaches that number; copies
// staging -> device of every output. The communicator's proxy thread waits for the ready slot,
// runs the round's operations on the staging buffers through the engine (the very plans and
// transports of host buffers), then stores the done word. Nothing blocks a CUDA callback, so
// several communicators in one process cannot deadlock each other.
//
// A failed round, abort or destruction releases every stream: the done word is set past every
// sequence number with the error mark (kReleased), so the GPU never waits forever; the error is
// reported by asyncError() (ncclCommGetAsyncError), without blocking.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.hpp"
#include "engine/work.hpp"
#include "runtime/device_ops.hpp"
#include "runtime/op_args.hpp"

namespace plexus::runtime {

class Communicator;

class StagedExecutor {
 public:
  // Ready slots: rounds that may be enqueued and not yet finished.
  static constexpr uint64_t kSlots = 256;
  // Set in the done word when streams are released by a failure (values >= it pass every wait).
  static constexpr uint64_t kReleased = uint64_t{1} << 62;

  StagedExecutor(Communicator& comm, std::unique_ptr<StreamOps> ops,
                 std::chrono::milliseconds timeout);
  ~StagedExecutor();  // drains (bounded by the timeout), releases the streams, joins the proxy
  StagedExecutor(const StagedExecutor&) = delete;
  StagedExecutor& operator=(const StagedExecutor&) = delete;

  // One operation of a round: its arguments (device pointers) and its stream (a cudaStream_t).
  struct Op {
    OpArgs args;
    void* stream = nullptr;
  };
  // Enqueues one round on the streams and returns. Throws kInvalidUsage while a stream is being
  // captured into a CUDA graph, and the recorded failure once the path has failed.
  void enqueue(const std::vector<Op>& ops);
  // Blocks until every enqueued round has been handed to the engine (host-buffer operations that
  // follow must reach the engine after them, in the same order on every rank).
  void waitSubmitted();
  // Blocks until every enqueued round is finished (bounded by the timeout).
  bool drain();  // false: timed out
  // Fails everything in flight, releases the streams; later enqueues fail.
  void abort(const std::string& reason);

  ErrorCode asyncError() const { return static_cast<ErrorCode>(errorCode_.load()); }
  std::string asyncErrorMessage() const;
  // Rounds enqueued so far (tests: a group is one round).
  uint64_t rounds() const { return enqueued_.load(); }

 private:
  struct Block {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  struct Round {
    uint64_t seq = 0;
    std::vector<OpArgs> ops;  // pointing into `staging`
    Block staging;
  };

  void checkUsable(const std::vector<Op>& ops) const;
  Round stage(const std::vector<Op>& ops, uint64_t seq);
  Block takeBlock(size_t bytes);
  void giveBlock(Block b);
  void waitForSlot(uint64_t seq);
  void proxyLoop();
  bool waitReady(const Round& r);
  void runRound(Round& r);
  void finishRound(Round& r);
  bool waitCounter(const std::atomic<uint64_t>& counter, uint64_t target);
  void fail(ErrorCode code, const std::string& message);
  void releaseStreams();
  uint64_t* readySlot(uint64_t seq) { return flags_ + seq % kSlots; }
  uint64_t* doneWord() { return flags_ + kSlots; }

  Communicator& comm_;
  std::unique_ptr<StreamOps> ops_;
  std::chrono::milliseconds timeout_;
  uint64_t* flags_ = nullptr;  // kSlots ready slots, then the done word (pinned; first enqueue)
  std::mutex enqueueMutex_;    // one enqueue at a time: sequence numbers follow stream order
  mutable std::mutex mutex_;   // the queue, the block pool and the error message
  std::condition_variable cv_;
  std::deque<Round> queue_;
  std::multimap<size_t, Block> pool_;  // free staging blocks by size
  std::atomic<uint64_t> enqueued_{0}, submitted_{0}, finished_{0};
  std::atomic<int> errorCode_{0};
  std::string errorMessage_;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::thread proxy_;
};

}  // namespace plexus::runtime
