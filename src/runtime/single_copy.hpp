// Single copy on one host (PLEXUS_SINGLE_COPY): a large all-reduce (also reduce-scatter and
// all-gather, below) whose ranks all live on this
// host moves each byte once instead of staging it through shm slots. Each rank owns 1/n of the
// buffer; it reads its peers' inputs for that slice with cross-memory attach (process_vm_readv,
// in cache-sized chunks into a small scratch) and reduces into its own output; then it reads the
// peers' finished slices straight into its output. Works on unregistered user buffers.
//
// Per call the ranks write each other small control words (process_vm_writev into the peer's
// control block): the call's buffer addresses, then three phase numbers (posted, reduced, done).
// Every wait is bounded by the communicator's timeout, stops on abort, notices a dead peer within
// about a millisecond (process_vm_readv of its control block fails with ESRCH) and names the rank
// it waits for.
//
// The call runs on the engine's queue (the work's gate, with an empty plan), so it stays in order
// with the communicator's other collectives. docs/performance.md, "Single copy".
//
// PLEXUS_SINGLE_COPY=auto (the default) offers only zero copy: an all-reduce whose buffers lie in
// ncclMemAlloc's shared allocations on this rank posts them (offer, the gate of a work that also
// carries the slot plan); a rank whose buffers do not tells its peers so in one word and runs the
// plan. settle (the work's poll) runs zero copy once every peer posted shared buffers, and lets
// the plan run as soon as one peer said it cannot (single_copy_offer.cpp).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "plexus/types.hpp"
#include "runtime/host_ranks.hpp"
#include "runtime/reduce_args.hpp"

namespace plexus::runtime {

enum class SingleCopyMode { kAuto, kOff, kOn };

struct SingleCopySettings {
  SingleCopyMode mode = SingleCopyMode::kAuto;
  uint64_t threshold = 0;  // smallest all-reduce (bytes) that takes single copy
};
// PLEXUS_SINGLE_COPY (auto|0|1) and PLEXUS_SINGLE_COPY_MIN; throws Error(kInvalidArgument) on a
// bad mode.
SingleCopySettings singleCopySettingsFromEnv();

struct SingleCopySetup : HostRanks {
  std::chrono::milliseconds timeout{0};
  const std::atomic<bool>* abort = nullptr;
  std::string context;
  // The bootstrap's all-gather (collective over the communicator).
  std::function<std::vector<std::string>(const std::string&)> allGather;
  // Called about every millisecond while waiting for peers: throws Error when the transports
  // learnt of a peer's failure (an abort notice). May be empty.
  std::function<void()> pollPeers;
  // Whether results of `bytes` per buffer (in place: one buffer) bypass the cache: the engine's
  // rule (engine::streamsResults, PLEXUS_NT_STORE_MIN). May be empty: never.
  std::function<bool(uint64_t bytes, bool inPlace)> streams;
};

// Why single copy cannot serve this communicator ("" when it may): one rank, a rank on another
// host, or another rank in this process. Equal on every rank.
std::string singleCopyObstacle(const SingleCopySetup& setup);

class SingleCopy {
 public:
  // Collective over the communicator (every rank calls it, whatever its obstacle): agrees on
  // the settings (rank 0's), probes cross-memory attach to every peer and logs the outcome in
  // one INFO line. nullptr when single copy is off, impossible or not working to every peer.
  static std::unique_ptr<SingleCopy> create(SingleCopySetup setup, SingleCopySettings mine);
  ~SingleCopy();
  SingleCopy(const SingleCopy&) = delete;
  SingleCopy& operator=(const SingleCopy&) = delete;

  // Whether this call takes single copy (equal on every rank for equal calls): an all-reduce,
  // reduce-scatter or all-gather whose largest buffer has at least the threshold's bytes. Never
  // in auto mode (offers).
  bool serves(algo::Collective c, uint64_t count, size_t elemSize) const;
  // Auto mode: whether this call is offered zero copy (an all-reduce of at least the threshold's
  // bytes; equal on every rank for equal calls). Such a call runs offer() then settle() until
  // it answers kDone (zero copy ran) or kSlots (run the plan).
  bool offers(algo::Collective c, uint64_t count, size_t elemSize) const;
  enum class Settled { kWaiting, kDone, kSlots };
  void offer(const void* input, void* output, size_t count, DataType type, RedOp op);
  Settled settle();
  // The empty plan the work carries (algorithm "single-copy"; the gate does the work).
  std::shared_ptr<const algo::Plan> plan(algo::Collective c, uint64_t count) const;
  // The collective itself (all-reduce, reduce-scatter or all-gather; `count` as the API's);
  // throws Error naming rank, peer, host and what to check.
  void call(algo::Collective c, const void* input, void* output, size_t count, DataType type,
            RedOp op);

 private:
  struct RegionRef {      // a buffer inside a shared allocation (runtime/shared_alloc.hpp)
    int64_t fd = -1;      // in the posting process; -1: the buffer is not in one
    uint64_t id = 0;      // the allocation's id there
    uint64_t size = 0;    // of the allocation
    uint64_t offset = 0;  // of the buffer in it
  };
  struct Posted {  // what a rank tells each peer about one call
    uint64_t input = 0;
    uint64_t output = 0;
    RegionRef in, out;
  };
  struct alignas(64) Word {  // one per peer in each rank's control block; peers write them
    std::atomic<uint64_t> phase{0};
    std::atomic<int64_t> blame{-1};  // the rank this peer found failed (a failure notice)
    // Auto mode: the phase of the last call this peer offered without shared buffers (it runs
    // the plan; it wrote neither `posted` nor `phase` for that call).
    std::atomic<uint64_t> declined{0};
    Posted posted;
  };
  struct Offer : ReduceArgs {  // the call offer() posted and settle() finishes (auto mode)
    uint64_t phase = 0;
    bool declined = false;  // this rank's buffers are not shared: the plan runs
    std::chrono::steady_clock::time_point since, nextCheck;
  };
  struct Unmap {
    size_t size = 0;
    void operator()(std::byte* p) const;
  };
  using Mapping = std::unique_ptr<std::byte, Unmap>;
  explicit SingleCopy(SingleCopySetup setup);

  void run(const void* input, void* output, size_t count, DataType type, RedOp op);
  // single_copy_scatter_gather.cpp
  void runReduceScatter(const void* input, void* output, size_t count, DataType type, RedOp op);
  void runAllGather(const void* input, void* output, size_t count, DataType type);
  // Zero copy (single_copy_mapped.cpp): every rank's buffers are shared allocations.
  static RegionRef regionOf(const void* p, size_t bytes);
  bool allShared(const Posted& mine) const;
  std::byte* mapped(int peer, const RegionRef& r);  // read and write
  void runMapped(const void* input, void* output, size_t count, DataType type, RedOp op,
                 uint64_t phase);
  // The message of a failed call: names the rank a peer's failure notice blames, if one came,
  // and passes the blame on to every other peer (so that survivors name the rank that failed
  // first, not a rank that exited after noticing it).
  std::string blame(const std::string& what);
  void readPeer(int peer, void* dst, uint64_t src, size_t bytes, const char* what) const;
  void writePeer(int peer, uint64_t dst, const void* src, size_t bytes, const char* what) const;
  uint64_t peerWord(int peer) const;  // this rank's Word in the peer's control block
  void post(uint64_t phase, const Posted& mine);
  void signal(uint64_t phase);
  void waitAll(uint64_t phase, const char* forWhat);
  void checkAlive(int peer) const;
  // Every millisecond of a wait for `peer`: abort, failure notices, the peer alive, the
  // transports' notices, the timeout since `since`. Throws naming the peer.
  void checkWait(int peer, std::chrono::steady_clock::time_point since, const char* forWhat);
  void checkNotices(const char* forWhat) const;
  // output[outBegin + i] = input[inBegin + i] (op) every peer's input[inBegin + i], i < n.
  void reduceSlice(const void* input, void* output, size_t inBegin, size_t outBegin, size_t n,
                   DataType type, RedOp op);
  std::string where(int peer) const;

  SingleCopySetup setup_;
  uint64_t threshold_ = 0;
  std::unique_ptr<Word[]> words_;     // this rank's control block, indexed by peer
  std::vector<uint64_t> peerBlocks_;  // each peer's control block address
  std::vector<std::byte> scratch_;    // one chunk of a peer's input
  uint64_t calls_ = 0;
  bool autoMode_ = false;  // PLEXUS_SINGLE_COPY=auto: zero copy offered, never cross-memory copies
  Offer offer_;
  bool saidZeroCopy_ = false;
  std::map<std::pair<int, uint64_t>, Mapping> mappings_;  // peers' shared allocations, by id
  mutable int culprit_ = -1;                              // the peer the last error named (where())
};

}  // namespace plexus::runtime
