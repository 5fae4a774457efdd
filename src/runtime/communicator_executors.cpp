// The communicator's choice of executors (docs/gpu.md, "Executors: which one runs a call"): the
// mapped executor for host-buffer collectives (PLEXUS_EXECUTOR=mapped), and what
// PLEXUS_GPU_EXECUTOR=device gets for device buffers. Kept apart from communicator.cpp.
#include <algorithm>

#include "base/cuda_runtime.hpp"
#include "base/log.hpp"
#include "runtime/communicator.hpp"
#include "runtime/gpu_executor_choice.hpp"
#include "runtime/mapped_path.hpp"

namespace plexus::runtime {

// With PLEXUS_EXECUTOR=mapped and every rank on this host, host-buffer collectives go to the
// mapped executor; its window names travel through the bootstrap's all-gather (every rank decides
// alike: the host hashes are the same everywhere).
void Communicator::startMappedPath(Deadline deadline) {
  if (hostExecutorFromEnv() != HostExecutor::kMapped) return;
  MappedPathSetup s;
  static_cast<HostRanks&>(s) = hostRanksOf(peers_, rank_);
  s.ownHostHash = peers_[static_cast<size_t>(rank_)].hostHash;
  s.ownPid = peers_[static_cast<size_t>(rank_)].pid;
  const std::string obstacle = mappedPathObstacle(s);
  if (!obstacle.empty()) {
    PLEXUS_INFO(subsys::kInit,
                "%s: PLEXUS_EXECUTOR=mapped needs every rank on this host (%s): "
                "collectives run on the engine",
                context_.c_str(), obstacle.c_str());
    return;
  }
  s.slotBytes = tctx_.slots.slotBytes;
  s.slots = tctx_.slots.slots;
  s.channels = std::clamp(std::max({fixedChannels_, maxChannels_, costs_.maxChannels, 1}), 1,
                          algo::kMaxChannels);
  s.timeout = timeout_;
  s.abort = &abort_;
  s.context = context_;
  s.allGather = [this, deadline](const std::string& mine) {
    return bootstrap_->allGather(mine, deadline);
  };
  mapped_ = std::make_unique<MappedPath>(std::move(s));
}

// PLEXUS_GPU_EXECUTOR=device: the device executor where it can serve this communicator, else the
// staged path with one INFO line. It cannot yet anywhere (it is not wired), so this only says so.
void Communicator::noteGpuExecutorChoice() const {
  const GpuExecutor wanted = gpuExecutorFromEnv();
  if (wanted == GpuExecutor::kStaged) return;
  GpuExecutorFacts f;
  f.allRanksLocal = std::all_of(peers_.begin(), peers_.end(), [&](const auto& p) {
    return p.hostHash == peers_[static_cast<size_t>(rank_)].hostHash;
  });
#if PLEXUS_HAVE_CUDA
  f.deviceExecutorBuilt = true;
#endif
  f.cudaUsable = cuda::usable();
  f.deviceExecutorWired = false;
  const GpuExecutorChoice c = chooseGpuExecutor(wanted, f);
  if (!c.fallbackReason.empty())
    PLEXUS_INFO(subsys::kInit,
                "%s: PLEXUS_GPU_EXECUTOR=device: %s; device buffers take the staged path",
                context_.c_str(), c.fallbackReason.c_str());
}

ErrorCode Communicator::mappedAsyncError() const {
  return mapped_ ? mapped_->asyncError() : ErrorCode::kSuccess;
}

}  // namespace plexus::runtime
