// Small all-reduce on one host (PLEXUS_SMALL_MAX): an all-reduce of a few bytes whose ranks all
// live on this host skips the engine. Each rank writes its input into its own cell of a segment
// every rank maps (one cache line for up to 48 bytes: the payload, then the call number, written
// last, which is the "posted" flag), then reads every rank's cell and reduces them in rank order
// into its output. One cache-line transfer per peer and direction, no queue, lock, heap
// allocation or system call on the path, and every rank computes the same bits.
//
// Cells are double-buffered by the parity of the call number: a rank writes call k + 2 into the
// cell of call k only after every peer has posted call k + 1, which each does after it has read
// every cell of call k.
//
// Waiting follows the engine's policy (spin with a core per rank, else sched_yield), then sleeps
// on a futex in the segment that a posting rank rings when someone sleeps. Every wait is bounded
// by the communicator's timeout (without a new arrival), stops on abort, notices within about a
// millisecond a peer process that exited or a peer's failure notice (a word in the segment, and
// the transports' abort notices), and names the rank it waits for.
//
// The communicator runs a call inline when its engine holds no work, else as an empty plan on the
// engine's queue whose gate posts and whose poll finishes it (so it stays in order with earlier
// asynchronous calls); both take one collective sequence number, so the ranks' engines stay in
// step either way.
// docs/performance.md, "Small all-reduce".
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/shm_segment.hpp"
#include "plan/plan.hpp"
#include "plexus/types.hpp"
#include "runtime/host_ranks.hpp"
#include "runtime/reduce_args.hpp"

namespace plexus::runtime {

// PLEXUS_SMALL_MAX: the largest all-reduce (bytes) that takes the small path; 0 turns it off.
// Unset: 16 KiB, or 128 KiB / nranks when smaller. Throws Error(kInvalidArgument) on a bad value.
uint64_t smallAllReduceMaxFromEnv(int nranks);

struct SmallAllReduceSetup : HostRanks {
  std::chrono::milliseconds timeout{0};
  const std::atomic<bool>* abort = nullptr;
  std::string context;
  // The wait policy (the engine's): poll this long, then yield this long, then sleep.
  std::chrono::microseconds spin{0};
  std::chrono::microseconds yield{0};
  // The bootstrap's all-gather (collective over the communicator).
  std::function<std::vector<std::string>(const std::string&)> allGather;
  // Called about every millisecond while waiting: throws Error when the transports learnt of a
  // peer's failure (an abort notice). May be empty.
  std::function<void()> pollPeers;
};

// The most ranks the small path serves: every rank reads every rank's cell.
constexpr int kSmallAllReduceMaxRanks = 64;

// Why the small path cannot serve this communicator ("" when it may): a rank on another host or
// too many ranks. Equal on every rank.
std::string smallAllReduceObstacle(const SmallAllReduceSetup& setup);

class SmallAllReduce {
 public:
  // Collective over the communicator when smallAllReduceObstacle() is "" (every rank calls it):
  // agrees on rank 0's maximum, maps rank 0's segment and logs one INFO line. nullptr when the
  // maximum is 0 or a rank could not map the segment (every rank then returns nullptr).
  static std::unique_ptr<SmallAllReduce> create(SmallAllReduceSetup setup, uint64_t maxBytes);
  ~SmallAllReduce();
  SmallAllReduce(const SmallAllReduce&) = delete;
  SmallAllReduce& operator=(const SmallAllReduce&) = delete;

  // Whether an all-reduce of `count` elements of `elemSize` bytes takes the small path (equal on
  // every rank for equal calls).
  bool serves(uint64_t count, size_t elemSize) const {
    return count > 0 && count * elemSize <= maxBytes_;
  }
  uint64_t maxBytes() const { return maxBytes_; }
  // The empty plan a queued call carries (algorithm "small"; its gate calls call()).
  std::shared_ptr<const algo::Plan> plan(uint64_t count) const;
  // One all-reduce (input may equal output), waiting as the engine does. Throws Error naming
  // rank, peer, host and what to check; after a failure every later call fails at once.
  void call(const void* input, void* output, size_t count, DataType type, RedOp op);
  // The same in two halves, for the engine's queue (a thread may drive several ranks, so no half
  // blocks): post() publishes this rank's input; poll() returns true once every rank's input is
  // there and the output is written, false until then (it checks peers and the timeout as
  // call() does). One call at a time: post, then poll until true.
  void post(const void* input, void* output, size_t count, DataType type, RedOp op);
  bool poll();

 private:
  struct Layout;
  SmallAllReduce(SmallAllReduceSetup setup, uint64_t maxBytes, ShmSegment segment);
  struct Pending : ReduceArgs {  // the call in flight
    size_t bytes = 0;
    uint64_t k = 0;  // call number
    int parity = 0;
    uint32_t signature = 0;
    int next = 0;  // ranks below have posted call k
    int seen = 0;  // `next` when the last arrival was noted
    std::chrono::steady_clock::time_point lastArrival, nextCheck;
  };
  bool arrived();
  void checkWait(std::chrono::steady_clock::time_point now);
  void waitAll();
  void finish();
  void checkPeers(int waitingFor, uint64_t k);
  void ringIfSleepers();
  void ring();     // wakes every sleeper on the bell
  void payRing();  // the ring a long payload's post owes, if any
  [[noreturn]] void fail(ErrorCode code, const std::string& message, int blamed);
  std::string where(int peer) const;
  std::byte* cell(int parity, int rank) const;

  SmallAllReduceSetup setup_;
  uint64_t maxBytes_ = 0;
  size_t cellBytes_ = 0;
  ShmSegment segment_;
  uint64_t calls_ = 0;
  Pending p_;
  bool ringOwed_ = false;  // posted with a release store; ringIfSleepers is still due
  bool samePid_ = false;   // every rank is a thread of this process (no exit to notice)
  std::string broken_;     // why calls fail
  ErrorCode brokenCode_ = ErrorCode::kSuccess;
};

}  // namespace plexus::runtime
