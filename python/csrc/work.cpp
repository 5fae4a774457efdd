// WorkPlexus and the Completer thread (work.hpp).
#include "work.hpp"

#include <ATen/core/jit_type.h>

#include <algorithm>

namespace plexus_torch {

void throwBackendError(const std::string& message) {
#if PLEXUS_TORCH_AT_LEAST(2, 1)
  C10_THROW_ERROR(DistBackendError, message);
#else
  TORCH_CHECK(false, message);
#endif
}

namespace {

std::exception_ptr makeError(const std::string& message) {
  try {
    throwBackendError(message);
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

}  // namespace

WorkPlexus::WorkPlexus(int rank, c10d::OpType type, const char* profilingTitle, std::string what,
                       std::vector<at::Tensor> outputs, std::chrono::milliseconds timeout,
                       const c10::optional<std::vector<at::Tensor>>& inputs)
    : c10d::Work(rank, type, profilingTitle, inputs),
      what_(std::move(what)),
      outputs_(std::move(outputs)),
      timeout_(timeout),
      future_(
          c10::make_intrusive<c10::ivalue::Future>(c10::ListType::create(c10::TensorType::get()))) {
}

WorkPlexus::~WorkPlexus() = default;

void WorkPlexus::addRequest(plexus::Request request) {
  std::lock_guard<std::mutex> lock(stateMutex_);
  requests_.push_back(std::move(request));
}

void WorkPlexus::keepAlive(at::Tensor tensor) {
  std::lock_guard<std::mutex> lock(stateMutex_);
  keepAlive_.push_back(std::move(tensor));
}

at::Tensor WorkPlexus::stageInput(const at::Tensor& t) {
  at::Tensor c = t.is_contiguous() ? t : t.contiguous();
  keepAlive(c);
  return c;
}

at::Tensor WorkPlexus::stageOutput(const at::Tensor& t) {
  at::Tensor c = stageInput(t);
  if (!c.is_same(t)) copyBack(t, c);
  return c;
}

at::Tensor WorkPlexus::buffer(at::IntArrayRef sizes, const at::Tensor& like) {
  at::Tensor b = at::empty(sizes, like.options().memory_format(c10::MemoryFormat::Contiguous));
  keepAlive(b);
  return b;
}

void WorkPlexus::copyBack(at::Tensor to, at::Tensor from) {
  std::lock_guard<std::mutex> lock(stateMutex_);
  copyBacks_.emplace_back(std::move(to), std::move(from));
}

void WorkPlexus::setFinisher(std::function<void()> finisher) {
  std::lock_guard<std::mutex> lock(stateMutex_);
  finisher_ = std::move(finisher);
}

void WorkPlexus::setSourceRank(int rank) {
  std::lock_guard<std::mutex> lock(stateMutex_);
  sourceRank_ = rank;
}

void WorkPlexus::setArmed(bool armed) {
  std::lock_guard<std::mutex> lock(stateMutex_);
  armed_ = armed;
}

void WorkPlexus::arm(plexus::Request request, std::function<void()> finisher, int sourceRank) {
  {
    std::lock_guard<std::mutex> lock(stateMutex_);
    requests_.push_back(std::move(request));
    finisher_ = std::move(finisher);
    sourceRank_ = sourceRank;
    armed_ = true;
  }
  armedCv_.notify_all();
}

void WorkPlexus::failNow(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(stateMutex_);
    if (!failure_) failure_ = message;
    armed_ = true;
  }
  armedCv_.notify_all();
}

bool WorkPlexus::requestsFinished() const {
  std::lock_guard<std::mutex> lock(stateMutex_);
  if (!armed_) return false;
  return std::all_of(requests_.begin(), requests_.end(),
                     [](const plexus::Request& r) { return r.test(); });
}

bool WorkPlexus::waitSome(std::chrono::milliseconds timeout) {
  plexus::Request next;
  {
    std::unique_lock<std::mutex> lock(stateMutex_);
    if (!armed_) {
      armedCv_.wait_for(lock, timeout, [this] { return armed_; });
      return armed_;
    }
    auto it = std::find_if(requests_.begin(), requests_.end(),
                           [](const plexus::Request& r) { return !r.test(); });
    if (it == requests_.end()) return true;
    next = *it;
  }
  try {
    return next.waitFor(timeout);
  } catch (const std::exception&) {
    return true;  // failed: complete() reports it
  }
}

void WorkPlexus::complete() {
  std::lock_guard<std::mutex> guard(completeMutex_);
  if (done_.load()) return;
  std::exception_ptr error;
  std::function<void()> finisher;
  std::vector<std::pair<at::Tensor, at::Tensor>> copyBacks;
  {
    std::lock_guard<std::mutex> lock(stateMutex_);
    if (failure_) {
      error = makeError(what_ + " failed: " + *failure_);
    } else {
      for (const plexus::Request& r : requests_)
        if (auto e = r.error()) {
          error = makeError(what_ +
                            (e->code() == plexus::ErrorCode::kRemote
                                 ? " failed (a peer closed or timed out): "
                                 : " failed: ") +
                            e->what());
          break;
        }
    }
    finisher = std::move(finisher_);
    copyBacks = std::move(copyBacks_);
  }
  if (!error && (finisher || !copyBacks.empty())) {
    try {
      for (auto& [to, from] : copyBacks) to.copy_(from.view(to.sizes()));
      if (finisher) finisher();
    } catch (const std::exception& e) {
      error = makeError(what_ + " failed: " + e.what());
    }
  }
  finish(error);
  if (error)
    future_->setError(error);
  else
    future_->markCompleted(c10::IValue(outputs_));
  {
    std::lock_guard<std::mutex> lock(stateMutex_);
    requests_.clear();
    keepAlive_.clear();
  }
  done_.store(true);
}

bool WorkPlexus::isCompleted() {
  if (done_.load()) return true;
  if (!requestsFinished()) return false;
  complete();
  return true;
}

bool WorkPlexus::wait(std::chrono::milliseconds timeout) {
  if (!done_.load()) {
    // Without a timeout, the group's timeout bounds the wait (as Gloo's does).
    auto limit = timeout == kNoTimeout ? timeout_ : timeout;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!requestsFinished()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        throwBackendError(
            what_ + ": Timed out after " + std::to_string(limit.count()) + " ms" +
            (timeout == kNoTimeout ? " (the process group's timeout)" : " in wait(timeout)") +
            "; the operation goes on");
      waitSome(std::min(left, std::chrono::milliseconds(100)));
    }
    complete();
  }
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    error = exception_;
  }
  if (error) std::rethrow_exception(error);
  return true;
}

int WorkPlexus::sourceRank() const {
  std::lock_guard<std::mutex> lock(stateMutex_);
  if (sourceRank_ < 0) return c10d::Work::sourceRank();
  return sourceRank_;
}

std::vector<at::Tensor> WorkPlexus::result() {
  return outputs_;
}

c10::intrusive_ptr<c10::ivalue::Future> WorkPlexus::getFuture() {
  return future_;
}

Completer::Completer() : thread_([this] { run(); }) {}

Completer::~Completer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // Complete what has finished (aborted operations included) so their futures do not hang.
  for (auto& w : works_)
    if (w->requestsFinished()) w->complete();
}

void Completer::add(c10::intrusive_ptr<WorkPlexus> work) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    works_.push_back(std::move(work));
  }
  cv_.notify_all();
}

size_t Completer::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<size_t>(std::count_if(
      works_.begin(), works_.end(),
      [](const c10::intrusive_ptr<WorkPlexus>& w) { return !w->requestsFinished(); }));
}

void Completer::run() {
  while (true) {
    std::vector<c10::intrusive_ptr<WorkPlexus>> snapshot;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || !works_.empty(); });
      if (stop_) return;
      snapshot = works_;
    }
    std::vector<WorkPlexus*> finished;
    for (auto& w : snapshot)
      if (w->isCompleted()) finished.push_back(w.get());
    if (!finished.empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      works_.erase(std::remove_if(works_.begin(), works_.end(),
                                  [&](const c10::intrusive_ptr<WorkPlexus>& w) {
                                    return std::find(finished.begin(), finished.end(), w.get()) !=
                                           finished.end();
                                  }),
                   works_.end());
      continue;
    }
    // Nothing finished: sleep on the oldest, but look at the others (and at stop_) every ms.
    snapshot.front()->waitSome(std::chrono::milliseconds(1));
  }
}

}  // namespace plexus_torch
