// The engine executes plans on real bytes: per communicator, collectives run one after another
// (all channels of one collective concurrently), point-to-point works run concurrently with each
// other and with collectives, in order per peer and direction. Progress is driven by the thread
// that waits (blocking calls) or by the engine's own progress thread (asynchronous requests).
// Waiting spins briefly, then sleeps as the transports say they wake a waiter (the rank's
// doorbell, or fds to poll); a wait that
// sees no progress for PLEXUS_TIMEOUT fails with an error naming what it waits for.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "engine/connection_provider.hpp"
#include "engine/work.hpp"

namespace plexus::engine {

struct EngineConfig {
  int rank = 0;
  int nranks = 1;
  uint32_t slotBytes = 128 * 1024;
  std::chrono::milliseconds timeout{1800 * 1000};
  std::chrono::microseconds spin{50};
  // The most a blocked caller polls while sockets carry its wait (the transports in use poll
  // fds): a polling rank holds the core the kernel's network stack needs to move its data.
  std::chrono::microseconds socketSpin{50};
  // After spinning, a blocked caller yields its core (sched_yield) this long before it sleeps.
  std::chrono::microseconds yield{0};
  // Which operations write their results with non-temporal stores (streaming()): those whose
  // buffers are at least streamingBytes (PLEXUS_NT_STORE_MIN), or, when streamingCache is set
  // (PLEXUS_NT_STORE_MIN=auto), those whose buffers on the host's `localRanks` ranks together
  // exceed half of that last-level cache. Both 0: never.
  uint64_t streamingBytes = 0;
  uint64_t streamingCache = 0;
  int localRanks = 1;
  std::string context;  // "rank 2 of 4 (comm 1f2e)" for messages
  // Called once, with the error message, when the engine first fails (under its progress lock);
  // `timedOut`: the failure is the PLEXUS_TIMEOUT stall check's. The flight recorder's dump hook.
  std::function<void(const std::string& message, bool timedOut)> onFailure;
};

// Whether an operation of `bytes` per buffer (in place: one buffer) writes its results with
// non-temporal stores under `c` (EngineConfig::streamingBytes, streamingCache).
bool streamsResults(const EngineConfig& c, uint64_t bytes, bool inPlace);

class Engine {
 public:
  Engine(EngineConfig config, ConnectionProvider& provider, const std::atomic<bool>& abort);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a work (thread-safe). With `async`, the engine's progress thread drives it; otherwise
  // the caller must call wait().
  WorkPtr submit(WorkDesc desc, bool async = false);

  // Drives progress until every listed work has finished. Works may belong to several engines
  // (ranks of one process in one group). Never blocks forever: stalled works fail after the
  // engine's timeout.
  static void wait(const std::vector<std::pair<Engine*, WorkPtr>>& works);

  // Drives progress until no work is queued or running (or the engine failed).
  void waitIdle();

  // For a collective run outside the engine (the small all-reduce path): when no work is queued
  // or running and the engine has not failed, takes the collective sequence number a submitted
  // collective would have taken (peers that queue the same call stay in step) and returns true.
  // Cheap: no lock, no allocation.
  bool claimIdleCollective(uint32_t* seq);

  // Fails every queued and running work; later submissions fail at once.
  void failAll(ErrorCode code, const std::string& message);
  // The error that broke this engine, if any.
  ErrorCode asyncError() const { return static_cast<ErrorCode>(fatalCode_.load()); }
  std::string asyncErrorMessage() const;

  const EngineConfig& config() const { return config_; }

 private:
  struct Lane {
    const algo::Channel* channel = nullptr;
    size_t index = 0;  // of the channel in the plan
    size_t step = 0;
    uint64_t piece = 0;
    transport::Connection* waitingOn = nullptr;
    const char* waitingFor = nullptr;
    int waitingPeer = -1;
  };
  struct Active {
    WorkPtr work;
    std::vector<Lane> lanes;
    std::vector<transport::Connection*> sentOn;
    transport::Connection* draining = nullptr;  // all steps done; waits for this to drain
    bool started = false;
    bool polling = false;  // started, and its poll has not yet answered (WorkDesc::poll)
  };

  bool progressLocked();
  bool advance(Active& a);
  // The connections and slots of the piece a lane is at.
  struct PieceIo {
    transport::Connection* rc = nullptr;
    transport::Connection* sc = nullptr;
    const std::byte* rslot = nullptr;
    std::byte* sslot = nullptr;
  };
  bool runLane(Active& a, Lane& lane);
  // `into`: where a received piece that is only copied goes (the transport may read it there).
  bool openPiece(Lane& lane, const algo::Step& s, const Work& w, uint32_t tag, size_t bytes,
                 std::byte* into, PieceIo& io);
  // Returns the memory to send the piece from when the send connection sends from memory
  // (sendsFromMemory) and the piece is a copy of it; nullptr when the send slot was filled.
  const std::byte* applyPiece(const algo::Step& s, Work& w, const PieceIo& io, uint64_t e0,
                              uint64_t n);
  void start(Active& a);
  void sleepLocked(std::chrono::nanoseconds max);
  void checkStall();
  bool pollingLocked() const;  // the running collective waits in its poll (WorkDesc::poll)
  // The work's results bypass the cache (EngineConfig::streamingBytes).
  bool streaming(const WorkDesc& d) const;
  std::string explain(const Error& e);
  void failLocked(ErrorCode code, const std::string& message);
  bool hasWorkLocked() const;
  std::string describeWaits() const;
  void progressThreadMain();

  EngineConfig config_;
  ConnectionProvider& provider_;
  const std::atomic<bool>& abort_;

  // Submission inbox (any thread).
  std::mutex inboxMutex_;
  std::condition_variable inboxCv_;
  std::vector<WorkPtr> inbox_;
  // Set (under inboxMutex_) when inbox_ has works: a turn of the wait loop takes the inbox lock
  // only then.
  std::atomic<bool> inboxPending_{false};
  std::atomic<uint32_t> collSeq_{0};  // written under inboxMutex_ or by claimIdleCollective
  std::map<std::pair<int, bool>, uint32_t> p2pSeq_;
  bool stopThread_ = false;
  std::thread progressThread_;
  std::atomic<uint32_t> pendingWorks_{0};

  // Progress state (guarded by progressMutex_).
  std::mutex progressMutex_;
  std::deque<Active> collectives_;
  std::map<std::pair<int, bool>, std::deque<Active>> p2p_;
  Clock::time_point lastProgress_;
  Clock::time_point lastPeerCheck_;
  bool progressedSinceIdle_ = false;  // progress made since the clocks above were last set
  // Scratch shared by collectives (one runs at a time); kept between calls up to this size.
  static constexpr size_t kKeptScratchBytes = size_t{16} << 20;
  std::unique_ptr<std::byte[]> scratch_;
  size_t scratchBytes_ = 0;
  bool timedOut_ = false;  // the stall check failed the engine (for onFailure)
  // How the transports wake this rank, read when a work starts and before each sleep (not on
  // every turn of the wait loop). The buffers below keep their capacity between calls: the
  // blocking path allocates nothing once they have grown.
  transport::WakeSources wake_;
  std::vector<pollfd> pollFds_;
  std::vector<transport::Connection*> waited_;  // the stall check's connections
  std::atomic<int> fatalCode_{0};
  std::string fatalMessage_;
  mutable std::mutex fatalMutex_;
};

}  // namespace plexus::engine
