// A Work is one operation (a collective, or one send or receive) on one communicator: the plan
// to run, the user's buffers, and its completion state, which the caller waits on.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "kernels/datatype.hpp"
#include "plan/plan.hpp"

namespace plexus::engine {

// One operation's slot in the communicator's flight recorder (runtime/flight_recorder.hpp), as far
// as the engine updates it: how far the plan got, what it waits for, when it ended. Every field is
// a relaxed atomic (a dump reads them from another thread or a signal handler); the engine writes
// only while `id` still names its operation, so a slot the ring has reused is left alone.
struct OpTrace {
  enum State : uint32_t { kFree = 0, kQueued = 1, kRunning = 2, kDone = 3, kFailed = 4 };
  // What each channel waits for: channel c in entry c % kLanes (a plan of more channels folds).
  static constexpr size_t kLanes = 4;
  std::atomic<uint32_t> id{0};
  std::atomic<uint32_t> state{kFree};
  std::atomic<uint32_t> stepsDone{0};             // steps finished, summed over the plan's channels
  std::atomic<int32_t> waitPeer[kLanes] = {};     // the peer a channel's current step waits for
  std::atomic<const char*> waitFor[kLanes] = {};  // "data from", ... (a literal); null: none
  std::atomic<int64_t> lastProgressUs{0};         // wall clock (coarse) of the last finished step
  std::atomic<int64_t> endUs{0};
};

// Microseconds of the coarse wall clock (a few ns to read; resolution of a scheduler tick).
int64_t traceClockUs();

// The slot of one operation and the id it holds there; empty when no recorder is on.
struct TraceRef {
  OpTrace* slot = nullptr;
  uint32_t id = 0;
  bool owns() const { return slot != nullptr && slot->id.load(std::memory_order_relaxed) == id; }
  void stepDone(size_t lane) const {
    if (!owns()) return;
    slot->stepsDone.fetch_add(1, std::memory_order_relaxed);
    slot->waitFor[lane % OpTrace::kLanes].store(nullptr, std::memory_order_relaxed);
    slot->lastProgressUs.store(traceClockUs(), std::memory_order_relaxed);
  }
  void waiting(size_t lane, int peer, const char* what) const {
    if (!owns()) return;
    slot->waitPeer[lane % OpTrace::kLanes].store(peer, std::memory_order_relaxed);
    slot->waitFor[lane % OpTrace::kLanes].store(what, std::memory_order_relaxed);
  }
  void setState(OpTrace::State s) const;
};

struct WorkDesc {
  std::shared_ptr<const algo::Plan> plan;
  const void* input = nullptr;
  void* output = nullptr;
  DataType type = DataType::kFloat32;
  RedOp op = RedOp::kSum;
  uint32_t signature = 0;  // hash of the call's arguments; peers must agree
  int p2pPeer = -1;        // for point-to-point works: the peer
  bool p2pSend = false;    // for point-to-point works: direction
  uint64_t count = 0;      // the API's count (for messages)
  // Runs when the work reaches the front of its queue, before its first step; throws Error to
  // fail it (PLEXUS_CHECK compares the gathered call signatures here). Empty: nothing runs.
  std::function<void()> gate;
  // Called on each progress turn once the gate ran, until it returns kDone (the work is complete
  // and its plan's steps are not run) or kRunPlan (the plan runs from then on, as if there were no
  // poll); throws Error to fail it. While it answers kWaiting it checks its own peers and timeout
  // (the engine's stall check leaves such a work alone), and the engine sleeps at most 20 us at a
  // time (its peers do not ring this rank's doorbell). Empty: the plan runs.
  enum class Poll { kWaiting, kDone, kRunPlan };
  std::function<Poll()> poll;
  // A private copy of the input, for calls whose plan cannot run in place (all-to-all with
  // input == output); `input` then points into it. Lives as long as the work.
  std::vector<std::byte> stagedInput;
  TraceRef trace;  // the flight recorder's slot (runtime/flight_recorder.hpp), if any

  // "allreduce of 1024 x float (sum, ring)", "send of 10 x int32 to rank 3": built only when a
  // message needs it, so the hot path formats nothing.
  std::string label() const;
};

class Work {
 public:
  enum State : uint32_t { kPending = 0, kDone = 1, kFailed = 2 };

  explicit Work(WorkDesc desc) : desc_(std::move(desc)) {}
  const WorkDesc& desc() const { return desc_; }
  bool isP2P() const { return desc_.p2pPeer >= 0; }

  State state() const { return static_cast<State>(state_.load(std::memory_order_acquire)); }
  bool finished() const { return state() != kPending; }
  // Valid once finished() and state() == kFailed.
  ErrorCode errorCode() const { return errorCode_; }
  const std::string& errorMessage() const { return error_; }

  // Waits (sleeping) until finished or `timeout`; does not drive progress.
  bool waitFinished(std::chrono::nanoseconds timeout) const;

  // Engine side.
  void complete();
  void fail(ErrorCode code, std::string message);
  uint32_t seq = 0;  // assigned by the engine at submission
  // Scratch of the running plan: the engine's reusable collective scratch, or `ownScratch`.
  std::byte* scratch = nullptr;
  std::unique_ptr<std::byte[]> ownScratch;

 private:
  void publish(State s);
  WorkDesc desc_;
  mutable std::atomic<uint32_t> state_{kPending};
  mutable std::atomic<uint32_t> waiters_{0};
  ErrorCode errorCode_ = ErrorCode::kSuccess;
  std::string error_;
};

using WorkPtr = std::shared_ptr<Work>;

}  // namespace plexus::engine
