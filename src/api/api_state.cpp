// Last-error bookkeeping and group execution for the C API.
#include <algorithm>
#include <chrono>
#include <thread>

#include "api/api_guard.hpp"
#include "api/device_dispatch.hpp"
#include "base/log.hpp"
#include "runtime/staged_executor.hpp"

namespace plexus::api {
namespace {

thread_local std::string tlsLastError;

struct PendingOp {
  ncclComm_t comm;
  runtime::OpArgs args;
  void* stream = nullptr;
  bool device = false;  // device buffers: the staged path
};

struct GroupState {
  int depth = 0;
  std::vector<PendingOp> ops;
  std::vector<InitRequest> inits;
};
thread_local GroupState tlsGroup;

void runInits(std::vector<InitRequest>& inits) {
  if (inits.empty()) return;
  std::vector<std::unique_ptr<runtime::Communicator>> made(inits.size());
  std::vector<std::string> errors(inits.size());
  std::vector<ErrorCode> codes(inits.size(), ErrorCode::kSuccess);
  auto one = [&](size_t i) {
    try {
      made[i] = runtime::Communicator::create(inits[i].id, inits[i].rank, inits[i].nranks,
                                              inits[i].options);
    } catch (const Error& e) {
      codes[i] = e.code();
      errors[i] = e.what();
    } catch (const std::exception& e) {
      codes[i] = ErrorCode::kInternal;
      errors[i] = e.what();
    }
  };
  if (inits.size() == 1) {
    one(0);
  } else {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < inits.size(); ++i) threads.emplace_back(one, i);
    for (auto& t : threads) t.join();
  }
  for (size_t i = 0; i < inits.size(); ++i) {
    if (codes[i] != ErrorCode::kSuccess) {
      for (size_t j = 0; j < inits.size(); ++j) *inits[j].out = nullptr;
      throw Error(codes[i], errors[i]);
    }
  }
  for (size_t i = 0; i < inits.size(); ++i) {
    auto c = std::make_unique<ncclComm>();
    c->impl = std::move(made[i]);
    *inits[i].out = c.release();  // owned by the caller until ncclCommDestroy
  }
}

// Device-buffer operations: one staging round per communicator, in the order of the calls. The
// host-buffer operations are left in `ops`.
void enqueueStaged(std::vector<PendingOp>& ops) {
  if (std::none_of(ops.begin(), ops.end(), [](const PendingOp& op) { return op.device; })) return;
  std::vector<std::pair<ncclComm_t, std::vector<runtime::StagedExecutor::Op>>> rounds;
  std::vector<PendingOp> host;
  for (auto& op : ops) {
    if (!op.device) {
      host.push_back(op);
      continue;
    }
    auto it = std::find_if(rounds.begin(), rounds.end(),
                           [&](const auto& r) { return r.first == op.comm; });
    if (it == rounds.end()) it = rounds.insert(rounds.end(), {op.comm, {}});
    it->second.push_back(runtime::StagedExecutor::Op{op.args, op.stream});
  }
  ops = std::move(host);
  for (auto& [comm, round] : rounds) comm->impl->staged().enqueue(round);
}

void runOps(std::vector<PendingOp>& ops) {
  enqueueStaged(ops);
  if (ops.empty()) return;
  for (auto& op : ops) orderAfterStaged(*op.comm->impl);
  std::vector<std::pair<engine::Engine*, engine::WorkPtr>> works;
  works.reserve(ops.size());
  for (auto& op : ops)
    works.emplace_back(&op.comm->impl->engine(), op.comm->impl->submit(op.args, false));
  for (auto& op : ops) {
    if (op.comm->impl->hasUnmatchedSelfP2P())
      throwError(ErrorCode::kInvalidUsage,
                 "%s: a send to or receive from this rank itself has no matching receive/send in "
                 "the same group",
                 op.comm->impl->context().c_str());
  }
  engine::Engine::wait(works);
  for (size_t i = 0; i < works.size(); ++i) {
    const auto& w = works[i].second;
    if (w->state() == engine::Work::kFailed) {
      ops[i].comm->lastError = w->errorMessage();
      throw Error(w->errorCode(), w->errorMessage());
    }
  }
}

}  // namespace

void abortAndFree(ncclComm_t comm, const char* reason) {
  std::unique_ptr<ncclComm> owned(comm);
  if (!owned->impl) return;
  owned->impl->abort(reason);
  // Their operations failed: calls of other threads return within milliseconds. Should one not
  // (a thread stuck outside Plexus with the handle), the handle is left allocated rather than
  // freed under it; the communicator itself is freed with the last reference.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (owned->callsInside.load() != 0) {
    if (std::chrono::steady_clock::now() > until) {
      PLEXUS_WARN(subsys::kInit,
                  "%s: %s: %d call(s) of other threads still use the communicator after 10 s; its "
                  "handle is not freed",
                  owned->impl->context().c_str(), reason, owned->callsInside.load());
      owned->impl.reset();
      (void)owned.release();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  owned->impl.reset();
}

void setLastError(ncclComm_t comm, const std::string& message) {
  tlsLastError = message;
  if (comm != nullptr) comm->lastError = message;
}

const char* lastError(ncclComm_t comm) {
  if (comm != nullptr && !comm->lastError.empty()) return comm->lastError.c_str();
  return tlsLastError.c_str();
}

ncclResult_t toResult(ErrorCode code) {
  return static_cast<ncclResult_t>(code);
}

bool inGroup() {
  return tlsGroup.depth > 0;
}

void groupStart() {
  ++tlsGroup.depth;
}

void enqueueOp(ncclComm_t comm, const runtime::OpArgs& args) {
  if (inGroup()) {
    tlsGroup.ops.push_back(PendingOp{comm, args});
    return;
  }
  orderAfterStaged(*comm->impl);
  if (comm->impl->runSmallNow(args)) return;  // small all-reduce, the engine idle
  std::vector<PendingOp> one{PendingOp{comm, args}};
  runOps(one);
}

void enqueueDeviceOp(ncclComm_t comm, const runtime::OpArgs& args, void* stream) {
  auto& staged = comm->impl->staged();  // fails now, not at ncclGroupEnd, without usable CUDA
  if (inGroup()) {
    tlsGroup.ops.push_back(PendingOp{comm, args, stream, true});
    return;
  }
  staged.enqueue({runtime::StagedExecutor::Op{args, stream}});
}

void enqueueInit(const InitRequest& request) {
  if (inGroup()) {
    tlsGroup.inits.push_back(request);
    return;
  }
  std::vector<InitRequest> one{request};
  runInits(one);
}

void groupEnd() {
  if (tlsGroup.depth == 0)
    throwError(ErrorCode::kInvalidUsage, "ncclGroupEnd called without a matching ncclGroupStart");
  if (--tlsGroup.depth > 0) return;
  std::vector<InitRequest> inits = std::move(tlsGroup.inits);
  std::vector<PendingOp> ops = std::move(tlsGroup.ops);
  tlsGroup.inits.clear();
  tlsGroup.ops.clear();
  // The calls' handles are in use until the group returns (ncclCommAbort waits for them).
  struct Inside {
    std::vector<ncclComm_t> comms;
    ~Inside() {
      for (ncclComm_t c : comms) c->callsInside.fetch_sub(1);
    }
  } inside;
  for (const auto& op : ops) {
    op.comm->callsInside.fetch_add(1);
    inside.comms.push_back(op.comm);
  }
  runInits(inits);
  runOps(ops);
}

}  // namespace plexus::api
