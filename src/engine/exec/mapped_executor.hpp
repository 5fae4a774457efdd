// The host executor of the step interpreter: ranks in separate processes of one host run flat
// plans over windows (window.hpp) they map from each other, one thread per channel. It is the
// host twin of the device executor (engine/cuda/device_executor.hpp): the same interpreter, with
// counters as C++ atomics in shared memory instead of flags in GPU memory.
//
// Setup, per rank:  MappedExecutor ex(config, fifos);    // the FIFOs of every plan it will run
//                   names[rank] = ex.windowName();       // exchanged by the caller
//                   ex.connect(names);                   // collective: maps the peers' windows
//                   ex.execute(plan, buffers);           // any number of times
// A window is an anonymous memory file (memfd): peers open it through /proc/<pid>/fd/<fd> while
// connect() runs, after which the descriptor is closed, so no name and nothing in /dev/shm
// survives, however the processes end.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "base/shm_segment.hpp"
#include "engine/exec/exec_plan.hpp"
#include "engine/exec/window.hpp"

namespace plexus::engine::exec {

struct MappedExecutorConfig {
  int rank = 0;
  int nranks = 1;
  uint32_t slotBytes = 128 * 1024;  // must equal the FlattenOptions of the plans it runs
  uint32_t slots = 4;
  // A wait that sees no progress this long fails (connect() and every FIFO wait).
  std::chrono::milliseconds timeout{1800 * 1000};
  const std::atomic<bool>* abort = nullptr;  // set by the caller to stop waits (optional)
};

class MappedExecutor {
 public:
  MappedExecutor(const MappedExecutorConfig& config, const std::vector<FifoKey>& fifos);
  ~MappedExecutor();
  MappedExecutor(const MappedExecutor&) = delete;
  MappedExecutor& operator=(const MappedExecutor&) = delete;

  // What a peer passes to connect() to map this rank's window (valid until connect() returns).
  std::string windowName() const;

  // Maps the windows of the peers this rank has FIFOs with (names indexed by rank), then waits
  // until those peers have mapped this one and closes its descriptor. Throws Error naming the
  // peer that is missing or whose window does not fit.
  void connect(const std::vector<std::string>& peerWindowNames);

  // Runs a flattened plan of this rank on real bytes; returns when every channel is done. Throws
  // Error(kRemote) on a timeout or abort, Error(kInvalidUsage) on a message mismatch, naming
  // rank, peer, step and what was awaited. After a failure the executor refuses further calls.
  void execute(const FlatPlan& plan, const ExecBuffers& buffers);

  // The window's FIFO counters as this rank sees them (for tests).
  const WindowLayout& layout() const { return layout_; }
  unsigned char* windowBase() const { return static_cast<unsigned char*>(window_.data()); }

 private:
  void mapPeer(int peer, const std::string& name);
  void waitAttached(const std::vector<int>& peers);
  std::vector<ExecFifo> resolve(const FlatPlan& plan) const;

  MappedExecutorConfig config_;
  WindowLayout layout_;
  ShmSegment window_;
  std::vector<ShmSegment> peerWindows_;  // by rank
  std::vector<WindowLayout> peerLayouts_;
  std::vector<int> peerPids_;  // by rank: the process that owns the window (liveness checks)
  uint32_t calls_ = 0;
  bool connected_ = false;
  std::string broken_;  // why the executor refuses calls
};

}  // namespace plexus::engine::exec
