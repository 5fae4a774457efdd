// Engine: work queues, the wait policy, stall detection and failure propagation. The per-piece
// data movement of each step kind lives in step_runner.cpp.
#include "engine/engine.hpp"

#include <poll.h>
#include <sched.h>

#include <algorithm>

#include "base/futex.hpp"
#include "base/log.hpp"
#include "transports/common/abort_reason.hpp"

namespace plexus::engine {

Engine::Engine(EngineConfig config, ConnectionProvider& provider, const std::atomic<bool>& abort)
    : config_(std::move(config)), provider_(provider), abort_(abort) {
  lastProgress_ = Clock::now();
  lastPeerCheck_ = lastProgress_;
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(inboxMutex_);
    stopThread_ = true;
  }
  inboxCv_.notify_all();
  if (progressThread_.joinable()) progressThread_.join();
}

std::string Engine::asyncErrorMessage() const {
  std::lock_guard<std::mutex> lock(fatalMutex_);
  return fatalMessage_;
}

WorkPtr Engine::submit(WorkDesc desc, bool async) {
  auto work = std::make_shared<Work>(std::move(desc));
  if (fatalCode_.load() != 0) {
    work->fail(asyncError(),
               config_.context +
                   ": communicator is unusable after an earlier error: " + asyncErrorMessage());
    return work;
  }
  {
    std::lock_guard<std::mutex> lock(inboxMutex_);
    if (work->isP2P())
      work->seq = p2pSeq_[{work->desc().p2pPeer, work->desc().p2pSend}]++;
    else
      work->seq = collSeq_.fetch_add(1, std::memory_order_relaxed);
    inbox_.push_back(work);
    inboxPending_.store(true, std::memory_order_release);
    pendingWorks_.fetch_add(1, std::memory_order_relaxed);
    if (async && !progressThread_.joinable())
      progressThread_ = std::thread([this] { progressThreadMain(); });
  }
  inboxCv_.notify_one();
  return work;
}

bool Engine::claimIdleCollective(uint32_t* seq) {
  // Calls on one communicator come from one thread at a time (the API's rule), so no submission
  // races with this; the progress thread never submits.
  if (pendingWorks_.load(std::memory_order_acquire) != 0 || fatalCode_.load() != 0) return false;
  *seq = collSeq_.load(std::memory_order_relaxed);
  collSeq_.store(*seq + 1, std::memory_order_relaxed);  // no submission runs now: no locked add
  return true;
}

bool Engine::hasWorkLocked() const {
  if (!collectives_.empty()) return true;
  for (const auto& [key, q] : p2p_)
    if (!q.empty()) return true;
  return false;
}

void Engine::start(Active& a) {
  if (a.work->desc().gate) a.work->desc().gate();
  const algo::Plan& plan = *a.work->desc().plan;
  a.lanes.clear();
  for (const auto& ch : plan.channels) {
    Lane lane;
    lane.channel = &ch;
    lane.index = a.lanes.size();
    a.lanes.push_back(lane);
  }
  if (plan.scratchCount > 0) {
    // Plans write scratch before they read it (the verifier proves it), so it is not cleared.
    // Collectives run one at a time and share the engine's buffer; point-to-point works own
    // theirs.
    const size_t bytes = plan.scratchCount * dataTypeSize(a.work->desc().type);
    if (a.work->isP2P()) {
      a.work->ownScratch = std::make_unique_for_overwrite<std::byte[]>(bytes);
      a.work->scratch = a.work->ownScratch.get();
    } else {
      if (bytes > scratchBytes_) {
        scratch_.reset();
        scratch_ = std::make_unique_for_overwrite<std::byte[]>(bytes);
        scratchBytes_ = bytes;
      }
      a.work->scratch = scratch_.get();
    }
  }
  wake_ = provider_.wakeSources();  // connections set up since the last work may change them
  a.started = true;
  a.polling = static_cast<bool>(a.work->desc().poll);
  a.work->desc().trace.setState(OpTrace::kRunning);
  PLEXUS_TRACE(subsys::kColl, "%s: start %s (seq %u)", config_.context.c_str(),
               a.work->desc().label().c_str(), a.work->seq);
}

bool Engine::advance(Active& a) {
  if (!a.started) start(a);
  if (a.polling) {
    const WorkDesc::Poll p = a.work->desc().poll();
    if (p == WorkDesc::Poll::kWaiting) return false;
    a.polling = false;
    if (p == WorkDesc::Poll::kDone) {
      a.work->complete();
      pendingWorks_.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
  }
  bool moved = false;
  bool allDone = true;
  for (Lane& lane : a.lanes) {
    moved |= runLane(a, lane);
    if (lane.step < lane.channel->steps.size()) allDone = false;
  }
  if (allDone) {
    for (transport::Connection* c : a.sentOn)
      if (!c->sendDrained()) {
        c->progress();
        if (!c->sendDrained()) {
          a.draining = c;
          return moved;
        }
      }
    a.draining = nullptr;
    if (!a.work->isP2P() && scratchBytes_ > kKeptScratchBytes) {
      scratch_.reset();  // a large one is not kept between calls
      scratchBytes_ = 0;
    }
    a.work->complete();
    pendingWorks_.fetch_sub(1, std::memory_order_relaxed);
    moved = true;
  }
  return moved;
}

bool Engine::progressLocked() {
  bool moved = false;
  if (inboxPending_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(inboxMutex_);
    for (auto& w : inbox_) {
      Active a;
      a.work = std::move(w);
      if (a.work->isP2P())
        p2p_[{a.work->desc().p2pPeer, a.work->desc().p2pSend}].push_back(std::move(a));
      else
        collectives_.push_back(std::move(a));
      moved = true;
    }
    inbox_.clear();
    inboxPending_.store(false, std::memory_order_relaxed);
  }
  if (!hasWorkLocked()) return moved;
  if (abort_.load(std::memory_order_relaxed)) {
    failLocked(ErrorCode::kRemote, config_.context + ": the communicator was aborted");
    return true;
  }
  try {
    moved |= provider_.progressTransports();
    while (!collectives_.empty()) {
      bool m = advance(collectives_.front());
      moved |= m;
      if (!collectives_.front().work->finished()) break;
      collectives_.pop_front();
    }
    for (auto& [key, q] : p2p_) {
      while (!q.empty()) {
        moved |= advance(q.front());
        if (!q.front().work->finished()) break;
        q.pop_front();
      }
    }
  } catch (const Error& e) {
    failLocked(e.code(), config_.context + ": " + explain(e));
    return true;
  }
  // Reading the clock costs tens of nanoseconds in a VM: only a turn without progress does. The
  // first idle turn after progress restarts the stall and peer-check clocks.
  if (moved)
    progressedSinceIdle_ = true;
  else
    checkStall();
  return moved;
}

std::string Engine::explain(const Error& e) {
  // A connection that broke is often a symptom: the peer left because a rank far away failed.
  // The transports may have learnt that (an abort notice naming the first failure), which
  // explains the failure better than the broken connection does.
  if (e.code() != ErrorCode::kRemote) return e.what();
  try {
    provider_.progressTransports();
  } catch (const Error& why) {
    if (why.code() == ErrorCode::kRemote) return why.what();
  }
  return e.what();
}

std::string Engine::describeWaits() const {
  std::string out;
  auto describeActive = [&](const Active& a) {
    if (!a.started) return;
    if (a.draining != nullptr) {
      if (!out.empty()) out += "; ";
      out += a.work->desc().label() + ": waits for " + a.draining->describe() +
             " to take delivery of the last data";
    }
    for (const Lane& lane : a.lanes) {
      if (lane.step >= lane.channel->steps.size() || lane.waitingFor == nullptr) continue;
      if (!out.empty()) out += "; ";
      out += formatString("%s: channel %d step %zu waits for %s %s", a.work->desc().label().c_str(),
                          lane.channel->connection, lane.step, lane.waitingFor,
                          lane.waitingOn != nullptr
                              ? lane.waitingOn->describe().c_str()
                              : formatString("rank %d", lane.waitingPeer).c_str());
      if (out.size() > 1500) return;
    }
  };
  if (!collectives_.empty()) describeActive(collectives_.front());
  for (const auto& [key, q] : p2p_)
    if (!q.empty()) describeActive(q.front());
  return out.empty() ? std::string("nothing identifiable") : out;
}

bool Engine::pollingLocked() const {
  return !collectives_.empty() && collectives_.front().polling;
}

bool streamsResults(const EngineConfig& c, uint64_t bytes, bool inPlace) {
  if (c.streamingCache != 0) {
    // What the host's ranks hold of this operation (one buffer each when in place): when it
    // outgrows half the cache, results written through it would evict each other anyway.
    const uint64_t held = bytes * (inPlace ? 1u : 2u) * static_cast<uint64_t>(c.localRanks);
    return held > c.streamingCache / 2;
  }
  return c.streamingBytes != 0 && bytes >= c.streamingBytes;
}

bool Engine::streaming(const WorkDesc& d) const {
  return streamsResults(config_, d.count * dataTypeSize(d.type), d.input == d.output);
}

void Engine::checkStall() {
  auto now = Clock::now();
  if (progressedSinceIdle_ || pollingLocked()) {  // a polled work watches its own peers
    progressedSinceIdle_ = false;
    lastProgress_ = now;
    lastPeerCheck_ = now;
    return;
  }
  if (now - lastPeerCheck_ >= std::chrono::milliseconds(200)) {
    lastPeerCheck_ = now;
    waited_.clear();
    auto add = [&](transport::Connection* c) {
      if (c != nullptr && std::find(waited_.begin(), waited_.end(), c) == waited_.end())
        waited_.push_back(c);
    };
    auto collect = [&](const Active& a) {
      for (const Lane& l : a.lanes) add(l.waitingOn);
      add(a.draining);
    };
    if (!collectives_.empty()) collect(collectives_.front());
    for (const auto& [key, q] : p2p_)
      if (!q.empty()) collect(q.front());
    for (transport::Connection* c : waited_) {
      try {
        c->checkPeer();
      } catch (const Error& e) {
        failLocked(e.code(),
                   config_.context + ": " + e.what() + " (while " + describeWaits() + ")");
        return;
      }
    }
  }
  if (now - lastProgress_ > config_.timeout) {
    double secs = std::chrono::duration<double>(config_.timeout).count();
    timedOut_ = true;
    failLocked(ErrorCode::kRemote,
               formatString("%s: no progress for %.3g s (PLEXUS_TIMEOUT): %s. Check that every "
                            "rank calls the same operations in the same order, and that the peer "
                            "is alive",
                            config_.context.c_str(), secs, describeWaits().c_str()));
  }
}

void Engine::failLocked(ErrorCode code, const std::string& message) {
  int expected = 0;
  if (fatalCode_.compare_exchange_strong(expected, static_cast<int>(code))) {
    {
      std::lock_guard<std::mutex> lock(fatalMutex_);
      fatalMessage_ = message;
    }
    PLEXUS_WARN(subsys::kColl, "%s", message.c_str());
    if (config_.onFailure) config_.onFailure(message, timedOut_);
    // Peers learn the first failure, which this message ends with when it was relayed (each
    // transport tells them its way: shm through the control block, sockets by a notice).
    provider_.abortTransports(transport::abortOrigin(message));
  }
  std::string reason = asyncErrorMessage();
  auto failQueue = [&](std::deque<Active>& q) {
    for (auto& a : q) {
      if (!a.work->finished()) {
        a.work->fail(asyncError(), reason);
        pendingWorks_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    q.clear();
  };
  failQueue(collectives_);
  for (auto& [key, q] : p2p_) failQueue(q);
  std::lock_guard<std::mutex> lock(inboxMutex_);
  for (auto& w : inbox_) {
    w->fail(asyncError(), reason);
    pendingWorks_.fetch_sub(1, std::memory_order_relaxed);
  }
  inbox_.clear();
  inboxPending_.store(false, std::memory_order_relaxed);
}

void Engine::failAll(ErrorCode code, const std::string& message) {
  std::lock_guard<std::mutex> lock(progressMutex_);
  failLocked(code, message);
}

void Engine::sleepLocked(std::chrono::nanoseconds max) {
  if (pollingLocked()) max = std::min<std::chrono::nanoseconds>(max, std::chrono::microseconds(20));
  // Arm the doorbell before the last look for work, so a ring after that look is not lost. The
  // wake sources are read afresh: sleeping is rare next to the turns that only poll.
  wake_ = provider_.wakeSources();
  transport::Doorbell* bell = wake_.doorbell;
  const uint32_t seen = bell != nullptr ? bell->arm() : 0;
  if (!progressLocked() && hasWorkLocked()) {
    if (wake_.pollFds) {
      pollFds_.clear();  // keeps its capacity: no allocation once it has grown
      provider_.addPollFds(pollFds_);
      // A shared-memory peer rings the doorbell, which poll() does not see: with such peers the
      // sleep is cut into short naps.
      auto ns = bell != nullptr ? std::chrono::nanoseconds(100 * 1000) : max;
      timespec ts{static_cast<time_t>(ns.count() / 1000000000),
                  static_cast<long>(ns.count() % 1000000000)};
      ::ppoll(pollFds_.data(), pollFds_.size(), &ts, nullptr);
    } else if (bell != nullptr) {
      bell->sleep(seen, max);
    } else {
      // Nothing can wake this rank early: nap briefly.
      auto ns = std::min<std::chrono::nanoseconds>(max, std::chrono::microseconds(100));
      timespec ts{0, static_cast<long>(ns.count())};
      nanosleep(&ts, nullptr);
    }
  }
  if (bell != nullptr) bell->disarm();
}

void Engine::wait(const std::vector<std::pair<Engine*, WorkPtr>>& works) {
  // The distinct engines, in a buffer of this thread that keeps its capacity between calls: a
  // wait allocates nothing once the buffer has grown (a wait may run inside another thread's
  // wait only on another thread, so one buffer per thread suffices).
  thread_local std::vector<Engine*> engines;
  engines.clear();
  for (const auto& [e, w] : works)
    if (std::find(engines.begin(), engines.end(), e) == engines.end()) engines.push_back(e);
  if (engines.empty()) return;
  auto spin = engines.front()->config_.spin;
  auto yieldFor = engines.front()->config_.yield;
  Clock::time_point lastMove;
  bool stampMove = true;  // lastMove is set on the first idle turn
  bool sockets = false;   // the first engine's transports in use poll fds (read under its lock)
  while (true) {
    const Work* pending = nullptr;
    for (const auto& [e, w] : works)
      if (!w->finished()) {
        pending = w.get();
        break;
      }
    if (pending == nullptr) return;
    bool moved = false, drove = false;
    for (Engine* e : engines) {
      std::unique_lock<std::mutex> lock(e->progressMutex_, std::try_to_lock);
      if (!lock.owns_lock()) continue;
      drove = true;
      moved |= e->progressLocked();
      if (e == engines.front()) sockets = e->wake_.pollFds;
    }
    if (moved) {
      stampMove = true;  // the clock is read on the next idle turn, not on every busy one
      continue;
    }
    auto now = Clock::now();
    if (stampMove) {
      lastMove = now;
      stampMove = false;
    }
    const auto spinFor = sockets ? std::min(spin, engines.front()->config_.socketSpin) : spin;
    if (now - lastMove < spinFor) {
      cpuRelax();  // one pause per turn: a pause costs 65 to 140 cycles
      continue;
    }
    if (now - lastMove < spinFor + yieldFor) {
      // More ranks than cores: hand the core to a rank that has work (likely the peer this one
      // waits for) instead of sleeping; a futex wake-up would cost more than the whole step.
      sched_yield();
      continue;
    }
    if (!drove) {
      // Another thread (the engine's progress thread) drives; sleep until it finishes the work.
      pending->waitFinished(std::chrono::milliseconds(5));
      continue;
    }
    if (engines.size() == 1) {
      std::unique_lock<std::mutex> lock(engines.front()->progressMutex_, std::try_to_lock);
      if (lock.owns_lock()) engines.front()->sleepLocked(std::chrono::milliseconds(50));
    } else {
      // Several ranks of this process: their doorbells differ, so nap briefly instead.
      struct timespec ts {
        0, 50 * 1000
      };
      nanosleep(&ts, nullptr);
    }
  }
}

void Engine::waitIdle() {
  std::vector<std::pair<Engine*, WorkPtr>> all;
  {
    std::lock_guard<std::mutex> progress(progressMutex_);
    std::lock_guard<std::mutex> inbox(inboxMutex_);
    for (auto& w : inbox_) all.emplace_back(this, w);
    for (auto& a : collectives_) all.emplace_back(this, a.work);
    for (auto& [key, q] : p2p_)
      for (auto& a : q) all.emplace_back(this, a.work);
  }
  wait(all);
}

void Engine::progressThreadMain() {
  LogContext ctx(config_.context);
  auto lastMove = Clock::now();
  while (true) {
    {
      std::unique_lock<std::mutex> lock(inboxMutex_);
      inboxCv_.wait(
          lock, [&] { return stopThread_ || pendingWorks_.load(std::memory_order_relaxed) != 0; });
      if (stopThread_) return;
    }
    std::unique_lock<std::mutex> lock(progressMutex_);
    bool moved = progressLocked();
    auto now = Clock::now();
    if (moved) {
      lastMove = now;
      continue;
    }
    // The application's threads may want this core back: the progress thread polls briefly.
    if (now - lastMove < std::min<Clock::duration>(config_.spin, std::chrono::microseconds(100))) {
      lock.unlock();
      cpuRelax();
      continue;
    }
    sleepLocked(std::chrono::milliseconds(20));
    lock.unlock();
    sched_yield();
  }
}

}  // namespace plexus::engine
