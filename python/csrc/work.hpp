// WorkPlexus: the c10d Work handle of one backend operation. It wraps the plexus::Requests the
// operation submitted (several for operations built from sends and receives), keeps the tensors
// they read and write alive, copies staging buffers into the caller's tensors and runs the
// operation's finishing step once they all succeed, and completes the Work and its Future with
// the output tensors or with the error. Completion happens in whichever thread sees it first: the
// caller's wait(), a poll through isCompleted(), or the backend's Completer thread (so futures
// complete without a wait).
#pragma once

#include <ATen/core/ivalue.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "compat.hpp"
#include "plexus/plexus.hpp"

namespace plexus_torch {

class WorkPlexus : public c10d::Work {
 public:
  // `what` names the operation in errors ("plexus all_reduce of 1024 x float32"); `timeout` bounds
  // wait() without an explicit timeout.
  WorkPlexus(int rank, c10d::OpType type, const char* profilingTitle, std::string what,
             std::vector<at::Tensor> outputs, std::chrono::milliseconds timeout,
             const c10::optional<std::vector<at::Tensor>>& inputs = c10::nullopt);
  ~WorkPlexus() override;

  // Set-up, before the Work is handed out (or, for a receive matched later, by the matcher).
  void addRequest(plexus::Request request);
  void keepAlive(at::Tensor tensor);
  // Buffers handed to Plexus, kept alive until the Work completes. stageInput: `t` itself when
  // contiguous, else a contiguous copy. stageOutput: the same, and a copy is copied back into `t`
  // once every request succeeded. buffer: a new contiguous tensor like `like`, of `sizes`.
  at::Tensor stageInput(const at::Tensor& t);
  at::Tensor stageOutput(const at::Tensor& t);
  at::Tensor buffer(at::IntArrayRef sizes, const at::Tensor& like);
  // Copies `from` into `to` once every request succeeded (before the finisher runs).
  void copyBack(at::Tensor to, at::Tensor from);
  void setFinisher(std::function<void()> finisher);
  void setSourceRank(int rank);
  // A Work whose requests are attached later (a receive waiting for its message) starts unarmed.
  void setArmed(bool armed);
  // Attaches the request that completes a receive (and its finisher), and arms the Work.
  void arm(plexus::Request request, std::function<void()> finisher, int sourceRank);
  // Fails the Work at once with `message` (prefixed with what the Work is).
  void failNow(const std::string& message);

  // True once armed and every request has finished (successfully or not).
  bool requestsFinished() const;
  // Blocks up to `timeout` on the first unfinished request; false if it is still running.
  bool waitSome(std::chrono::milliseconds timeout);
  // Completes the Work (idempotent): error from the requests, or the finisher's result.
  void complete();

  bool isCompleted() override;
  bool wait(std::chrono::milliseconds timeout) override;
  int sourceRank() const override;
  std::vector<at::Tensor> result() override;
  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override;
  void synchronize() override {}

  const std::string& what() const { return what_; }

 private:
  std::string what_;
  std::vector<at::Tensor> outputs_;
  std::chrono::milliseconds timeout_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;

  mutable std::mutex stateMutex_;  // everything below
  std::condition_variable armedCv_;
  std::vector<plexus::Request> requests_;
  std::vector<at::Tensor> keepAlive_;
  std::vector<std::pair<at::Tensor, at::Tensor>> copyBacks_;  // (to, from)
  std::function<void()> finisher_;
  std::optional<std::string> failure_;
  bool armed_ = true;
  int sourceRank_ = -1;

  std::mutex completeMutex_;
  std::atomic<bool> done_{false};
};

// One thread per backend that completes Works nobody waits for, so that their futures (DDP
// communication hooks) and is_completed() move on. It blocks on the oldest Work's request and
// sweeps the others at least every millisecond.
class Completer {
 public:
  Completer();
  ~Completer();
  Completer(const Completer&) = delete;
  Completer& operator=(const Completer&) = delete;

  void add(c10::intrusive_ptr<WorkPlexus> work);
  // Works whose operations have not finished yet.
  size_t pending() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<c10::intrusive_ptr<WorkPlexus>> works_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace plexus_torch
