// The mapped executor behind a communicator: setup (window names through the bootstrap's
// all-gather), the work queue and its thread, and one work run on real bytes.
#include "runtime/mapped_path.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "engine/exec/host_platform.hpp"
#include "kernels/datatype.hpp"

namespace plexus::runtime {

HostExecutor hostExecutorFromEnv() {
  const std::string v = envString("EXECUTOR", "engine");
  if (v == "engine" || v.empty()) return HostExecutor::kEngine;
  if (v == "mapped") return HostExecutor::kMapped;
  throwError(ErrorCode::kInvalidArgument,
             "PLEXUS_EXECUTOR=%s: expected engine (the default) or mapped", v.c_str());
}

std::string mappedPathObstacle(const MappedPathSetup& s) {
  for (int r = 0; r < s.nranks; ++r)
    if (s.hostHashes[static_cast<size_t>(r)] != s.ownHostHash)
      return formatString("rank %d runs on another host", r);
  return "";
}

namespace {

// Every connection the tuner may use, to every peer, both directions.
std::vector<engine::exec::FifoKey> allFifos(const MappedPathSetup& s) {
  std::vector<engine::exec::FifoKey> fifos;
  for (int c = 0; c < s.channels; ++c)
    for (int p = 0; p < s.nranks; ++p)
      if (p != s.rank) {
        fifos.push_back({c, p, true});
        fifos.push_back({c, p, false});
      }
  return fifos;
}

}  // namespace

MappedPath::MappedPath(MappedPathSetup setup) : setup_(std::move(setup)) {
  for (int r = 0; r < setup_.nranks; ++r)
    if (r != setup_.rank && setup_.pids[static_cast<size_t>(r)] == setup_.ownPid) alone_ = false;
  engine::exec::MappedExecutorConfig cfg;
  cfg.rank = setup_.rank;
  cfg.nranks = setup_.nranks;
  cfg.slotBytes = setup_.slotBytes;
  cfg.slots = setup_.slots;
  cfg.timeout = setup_.timeout;
  cfg.abort = setup_.abort;
  executor_ = std::make_unique<engine::exec::MappedExecutor>(cfg, allFifos(setup_));
  std::vector<std::string> names = setup_.allGather(executor_->windowName());
  executor_->connect(names);
  PLEXUS_INFO(subsys::kInit,
              "%s: collectives on host buffers run on the mapped executor (%d connection(s) to "
              "every peer, %u slots of %u bytes)",
              setup_.context.c_str(), setup_.channels, setup_.slots, setup_.slotBytes);
  thread_ = std::thread([this] { threadMain(); });
}

MappedPath::~MappedPath() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

engine::WorkPtr MappedPath::submit(engine::WorkDesc desc, bool async) {
  auto work = std::make_shared<engine::Work>(std::move(desc));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failure_.empty()) {
      work->fail(ErrorCode::kRemote, failure_);
      return work;
    }
    queue_.push_back(work);
  }
  cv_.notify_all();
  if (!async && alone_) {
    // Bounded by the executor's own timeout and abort checks, which fail the work.
    while (!work->finished()) work->waitFinished(std::chrono::milliseconds(100));
  }
  return work;
}

bool MappedPath::covers(const algo::Plan& plan) const {
  return std::all_of(plan.channels.begin(), plan.channels.end(), [&](const algo::Channel& c) {
    return c.connection >= 0 && c.connection < setup_.channels;
  });
}

void MappedPath::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  // The running work ends by itself (executor timeout or abort), so this wait is bounded.
  cv_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
}

void MappedPath::abort(const std::string& reason) {
  std::deque<engine::WorkPtr> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failure_ = setup_.context + ": " + reason;
    dropped.swap(queue_);
  }
  for (auto& w : dropped) w->fail(ErrorCode::kRemote, failure_);
  cv_.notify_all();
}

void MappedPath::threadMain() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and nothing left
    engine::WorkPtr w = queue_.front();
    queue_.pop_front();
    ++running_;
    lock.unlock();
    run(*w);
    lock.lock();
    --running_;
    cv_.notify_all();
  }
}

const engine::exec::FlatPlan& MappedPath::flatFor(const engine::WorkDesc& d) {
  const auto key = std::make_tuple(d.plan.get(), static_cast<int>(d.type), static_cast<int>(d.op));
  auto it = flats_.find(key);
  if (it != flats_.end()) return it->second.second;
  if (flats_.size() >= 256) flats_.clear();
  engine::exec::FlatPlan flat =
      engine::exec::flatten(*d.plan, d.type, d.op, {setup_.slotBytes, setup_.slots});
  return flats_.emplace(key, std::make_pair(d.plan, std::move(flat))).first->second.second;
}

// A failure's message: the executor's, with how long a timeout waited (PLEXUS_TIMEOUT) and every
// peer whose process is gone (the one that died first may not be the one this rank waited for).
std::string MappedPath::explain(const std::string& what) const {
  std::string out = what;
  if (what.find("timed out") != std::string::npos) {
    out = formatString("no progress for %.3g s (PLEXUS_TIMEOUT): ",
                       static_cast<double>(setup_.timeout.count()) / 1000.0) +
          out;
    // Where the rank it waited for runs.
    const size_t at = what.find("from rank ");
    const int r = at == std::string::npos ? -1 : std::atoi(what.c_str() + at + 10);
    if (r >= 0 && r < setup_.nranks && r != setup_.rank)
      out += formatString("; rank %d runs on host %s (pid %d)", r,
                          setup_.hostNames[static_cast<size_t>(r)].c_str(),
                          setup_.pids[static_cast<size_t>(r)]);
  }
  for (int r = 0; r < setup_.nranks; ++r) {
    const int pid = setup_.pids[static_cast<size_t>(r)];
    if (r != setup_.rank && pid > 0 && engine::exec::hostProcessGone(pid))
      out += formatString("; rank %d (host %s, pid %d) is gone", r,
                          setup_.hostNames[static_cast<size_t>(r)].c_str(), pid);
  }
  return out;
}

void MappedPath::run(engine::Work& w) {
  const engine::WorkDesc& d = w.desc();
  ErrorCode code = ErrorCode::kSuccess;
  std::string what;
  try {
    const engine::exec::FlatPlan& flat = flatFor(d);
    const size_t scratchBytes = d.plan->scratchCount * dataTypeSize(d.type);
    if (scratch_.size() < scratchBytes) scratch_.resize(scratchBytes);
    const engine::exec::ExecBuffers buffers{d.input, d.output,
                                            scratchBytes > 0 ? scratch_.data() : nullptr};
    executor_->execute(flat, buffers);
    w.complete();
    return;
  } catch (const Error& e) {
    code = e.code();
    what = e.what();
  } catch (const std::exception& e) {
    code = ErrorCode::kInternal;
    what = e.what();
  }
  int none = 0;
  asyncError_.compare_exchange_strong(none, static_cast<int>(code));
  w.fail(code, setup_.context + ": " + d.label() + " on the mapped executor: " + explain(what));
}

}  // namespace plexus::runtime
