// The host executor: windows in memfd shared memory, one thread per channel running the step
// interpreter with the host platform.
#include "engine/exec/mapped_executor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

#include "base/error.hpp"
#include "engine/exec/host_platform.hpp"
#include "engine/exec/step_interpreter.hpp"

namespace plexus::engine::exec {
namespace {

std::atomic_ref<uint32_t> attachedOf(void* windowBase) {
  return std::atomic_ref<uint32_t>(static_cast<WindowHeader*>(windowBase)->attached);
}

// The failure that explains the others: a mismatch or a timeout rather than the channels that
// stopped because of it.
int rootFailure(const std::vector<ExecStatus>& statuses) {
  int found = -1;
  for (size_t c = 0; c < statuses.size(); ++c) {
    const uint32_t code = statuses[c].code;
    if (code == kExecOk) continue;
    if (found < 0 ||
        (statuses[static_cast<size_t>(found)].code == kExecAborted && code != kExecAborted))
      found = static_cast<int>(c);
  }
  return found;
}

}  // namespace

MappedExecutor::MappedExecutor(const MappedExecutorConfig& config,
                               const std::vector<FifoKey>& fifos)
    : config_(config) {
  for (const FifoKey& k : fifos) {
    if (k.peer < 0 || k.peer >= config.nranks || k.peer == config.rank)
      throwError(ErrorCode::kInvalidArgument,
                 "rank %d of %d: mapped executor FIFO with peer %d (outside the communicator or "
                 "this rank)",
                 config.rank, config.nranks, k.peer);
  }
  layout_ = WindowLayout::build(config.rank, fifos, config.slots, config.slotBytes);
  window_ = ShmSegment::create("plexus-exec-rank" + std::to_string(config.rank), layout_.size());
  layout_.writeTo(window_.data(), static_cast<int>(getpid()));
  peerWindows_.resize(static_cast<size_t>(config.nranks));
  peerLayouts_.resize(static_cast<size_t>(config.nranks));
  peerPids_.assign(static_cast<size_t>(config.nranks), 0);
}

MappedExecutor::~MappedExecutor() = default;

std::string MappedExecutor::windowName() const {
  if (window_.fd() < 0)
    throwError(ErrorCode::kInvalidUsage,
               "rank %d: windowName() after connect(): the window's descriptor is closed",
               config_.rank);
  return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(window_.fd());
}

void MappedExecutor::mapPeer(int peer, const std::string& name) {
  Fd fd(open(name.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd)
    throwSystemError(errno,
                     "rank %d: cannot open the window of rank %d (%s); check that rank %d is "
                     "alive and that this process may read its /proc entries",
                     config_.rank, peer, name.c_str(), peer);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0)
    throwSystemError(errno, "rank %d: fstat of the window of rank %d", config_.rank, peer);
  const std::string who =
      formatString("rank %d: the window of rank %d (%s)", config_.rank, peer, name.c_str());
  ShmSegment seg = ShmSegment::map(std::move(fd), static_cast<size_t>(st.st_size), who);
  WindowLayout l = WindowLayout::read(seg.data(), seg.size(), who);
  if (l.rank() != peer || l.slots() != config_.slots || l.slotBytes() != config_.slotBytes)
    throwError(ErrorCode::kInvalidUsage,
               "%s belongs to rank %d with %u slots of %u bytes; expected rank %d with %u slots of "
               "%u bytes (every rank must configure its executor alike)",
               who.c_str(), l.rank(), l.slots(), l.slotBytes(), peer, config_.slots,
               config_.slotBytes);
  attachedOf(seg.data()).fetch_add(1, std::memory_order_acq_rel);
  peerPids_[static_cast<size_t>(peer)] = static_cast<const WindowHeader*>(seg.data())->pid;
  peerLayouts_[static_cast<size_t>(peer)] = std::move(l);
  peerWindows_[static_cast<size_t>(peer)] = std::move(seg);
}

void MappedExecutor::waitAttached(const std::vector<int>& peers) {
  const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
  const uint32_t want = static_cast<uint32_t>(peers.size());
  while (attachedOf(window_.data()).load(std::memory_order_acquire) < want) {
    const bool aborted = config_.abort != nullptr && config_.abort->load();
    if (aborted || std::chrono::steady_clock::now() >= deadline) {
      std::string list;
      for (int p : peers) list += (list.empty() ? "" : ", ") + std::to_string(p);
      throwError(ErrorCode::kRemote,
                 "rank %d: %s while %u of its peers (%s) mapped its window, %u did; check that "
                 "every rank calls connect() with the FIFOs of the same plans",
                 config_.rank, aborted ? "aborted" : "timed out", want, list.c_str(),
                 attachedOf(window_.data()).load());
    }
    for (int p : peers) {
      const int pid = peerPids_[static_cast<size_t>(p)];
      if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
        throwError(ErrorCode::kRemote,
                   "rank %d: rank %d (process %d) died before every peer mapped this rank's "
                   "window",
                   config_.rank, p, pid);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void MappedExecutor::connect(const std::vector<std::string>& names) {
  if (connected_)
    throwError(ErrorCode::kInvalidUsage, "rank %d: connect() called twice", config_.rank);
  if (names.size() != static_cast<size_t>(config_.nranks))
    throwError(ErrorCode::kInvalidArgument,
               "rank %d: connect() needs %d window names (one per rank), got %zu", config_.rank,
               config_.nranks, names.size());
  const std::vector<int> peers = layout_.peers();
  for (int p : peers) mapPeer(p, names[static_cast<size_t>(p)]);
  waitAttached(peers);
  window_.closeFd();  // every peer holds a mapping now: nothing names the window any more
  connected_ = true;
}

std::vector<ExecFifo> MappedExecutor::resolve(const FlatPlan& plan) const {
  std::vector<const WindowLayout*> layouts(peerLayouts_.size(), nullptr);
  std::vector<unsigned char*> bases(peerWindows_.size(), nullptr);
  for (size_t r = 0; r < peerWindows_.size(); ++r) {
    if (!peerWindows_[r].valid()) continue;
    layouts[r] = &peerLayouts_[r];
    bases[r] = static_cast<unsigned char*>(peerWindows_[r].data());
  }
  return resolveFifos(plan, layout_, windowBase(), layouts, bases);
}

void MappedExecutor::execute(const FlatPlan& plan, const ExecBuffers& buffers) {
  const ExecHeader& h = plan.header;
  if (!broken_.empty())
    throwError(ErrorCode::kInvalidUsage, "rank %d: executor unusable after: %s", config_.rank,
               broken_.c_str());
  if (!connected_ && !layout_.entries().empty())
    throwError(ErrorCode::kInvalidUsage, "rank %d: execute() before connect()", config_.rank);
  if (h.rank != config_.rank || h.nranks != config_.nranks || h.slots != config_.slots ||
      h.slotBytes != config_.slotBytes)
    throwError(ErrorCode::kInvalidArgument,
               "rank %d of %d (%u slots of %u bytes): plan of rank %d of %d flattened for %u slots "
               "of %u bytes",
               config_.rank, config_.nranks, config_.slots, config_.slotBytes, h.rank, h.nranks,
               h.slots, h.slotBytes);
  std::vector<ExecFifo> fifos = resolve(plan);
  const ExecFifos fv{fifos.data(), static_cast<int32_t>(fifos.size())};
  ExecPlan view = plan.view();
  view.header.tag = makeExecTag(++calls_, h.signature);
  std::vector<ExecStatus> statuses(static_cast<size_t>(h.nchannels));
  std::atomic<bool> stop{false};
  std::vector<int> pids;
  for (const ExecFifo& f : fifos) pids.push_back(peerPids_[static_cast<size_t>(f.peer)]);
  HostWaitConfig wc;
  wc.fifoPids = pids.data();
  wc.timeout = config_.timeout;
  wc.abort = config_.abort;
  wc.stop = &stop;
  auto run = [&](int c) {
    HostPlatform p(wc);
    statuses[static_cast<size_t>(c)] = runChannel(p, view, c, buffers, fv);
    if (statuses[static_cast<size_t>(c)].code != kExecOk) stop.store(true);
  };
  std::vector<std::thread> threads;
  try {
    for (int c = 1; c < h.nchannels; ++c) threads.emplace_back(run, c);
  } catch (const std::system_error& e) {
    stop.store(true);
    for (std::thread& t : threads) t.join();
    broken_ = formatString("rank %d: cannot start a channel thread: %s", config_.rank, e.what());
    throwError(ErrorCode::kSystem, "%s", broken_.c_str());
  }
  if (h.nchannels > 0) run(0);
  for (std::thread& t : threads) t.join();
  const int bad = rootFailure(statuses);
  if (bad < 0) return;
  const ExecStatus& st = statuses[static_cast<size_t>(bad)];
  broken_ = describeStatus(plan, st);
  throwError(st.code == kExecMismatch ? ErrorCode::kInvalidUsage : ErrorCode::kRemote, "%s",
             broken_.c_str());
}

}  // namespace plexus::engine::exec
