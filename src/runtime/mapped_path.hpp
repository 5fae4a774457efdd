// PLEXUS_EXECUTOR=mapped: a communicator's host-buffer collectives run through the mapped executor
// (engine/exec/mapped_executor.hpp, the step interpreter that the device executor also runs) over
// windows its ranks map from each other, instead of through the engine and the transports.
// Point-to-point stays on the engine. It needs every rank on this host (windows are memfds a peer
// opens through /proc/<pid>/fd); otherwise the communicator keeps the engine (one INFO line).
//
// Works run in submission order on one thread of the path (a group of several ranks driven by one
// thread must not block in submit); a blocking call of a rank alone in its process waits for its
// work before submit returns, so that the caller does not poll.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/exec/exec_plan.hpp"
#include "engine/exec/mapped_executor.hpp"
#include "engine/work.hpp"
#include "plexus/types.hpp"
#include "runtime/host_ranks.hpp"

namespace plexus::runtime {

// Which executor runs host-buffer collectives (PLEXUS_EXECUTOR).
enum class HostExecutor { kEngine, kMapped };
// Reads PLEXUS_EXECUTOR; throws Error(kInvalidArgument) on another value.
HostExecutor hostExecutorFromEnv();

struct MappedPathSetup : HostRanks {
  uint64_t ownHostHash = 0;
  int ownPid = 0;
  uint32_t slotBytes = 0;  // the FIFO geometry the plans are built for
  uint32_t slots = 0;
  int channels = 1;  // connections 0..channels-1 get FIFOs to every peer
  std::chrono::milliseconds timeout{0};
  const std::atomic<bool>* abort = nullptr;
  std::string context;
  // The bootstrap's all-gather (collective over the communicator).
  std::function<std::vector<std::string>(const std::string&)> allGather;
};

// Why the mapped path cannot serve this communicator ("" when it can): a rank on another host.
std::string mappedPathObstacle(const MappedPathSetup& setup);

class MappedPath {
 public:
  // Collective: creates the window, exchanges names with the all-gather and maps the peers'.
  explicit MappedPath(MappedPathSetup setup);
  ~MappedPath();
  MappedPath(const MappedPath&) = delete;
  MappedPath& operator=(const MappedPath&) = delete;

  // Queues a collective (desc.plan set, not point-to-point); returns its work. Without `async`
  // and with no other rank of the communicator in this process, returns once it finished.
  engine::WorkPtr submit(engine::WorkDesc desc, bool async);
  // Whether the window has the FIFOs this plan uses (a custom plan may use more connections).
  bool covers(const algo::Plan& plan) const;
  // Waits until every queued work finished.
  void drain();
  // Fails queued works (the running one stops through the abort flag).
  void abort(const std::string& reason);
  // The error of the first failed work (kSuccess while none failed): the executor refuses calls
  // after a failure, so it is the communicator's asynchronous error.
  ErrorCode asyncError() const { return static_cast<ErrorCode>(asyncError_.load()); }

 private:
  void threadMain();
  void run(engine::Work& work);
  const engine::exec::FlatPlan& flatFor(const engine::WorkDesc& d);
  std::string explain(const std::string& what) const;

  MappedPathSetup setup_;
  bool alone_ = true;  // no other rank of the communicator in this process
  std::unique_ptr<engine::exec::MappedExecutor> executor_;
  std::map<std::tuple<const algo::Plan*, int, int>,
           std::pair<std::shared_ptr<const algo::Plan>, engine::exec::FlatPlan>>
      flats_;
  std::vector<unsigned char> scratch_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<engine::WorkPtr> queue_;
  size_t running_ = 0;
  bool stop_ = false;
  std::string failure_;  // set by abort(): later works fail with it
  std::atomic<int> asyncError_{0};
  std::thread thread_;
};

}  // namespace plexus::runtime
