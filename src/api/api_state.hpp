// State behind the C API: the ncclComm handle, the thread's last error, and the thread's group
// (calls queued between ncclGroupStart and ncclGroupEnd).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "plexus/nccl.h"
#include "runtime/communicator.hpp"

struct ncclComm {
  std::shared_ptr<plexus::runtime::Communicator> impl;
  std::string lastError;
  int device = -1;
  // Calls of other threads inside the API with this handle (CallScope): ncclCommAbort from another
  // thread fails their operations, then waits for them to leave before it frees the handle.
  std::atomic<int> callsInside{0};
};

namespace plexus::api {

// Counts a call as inside the API with `comm` for as long as it lives (declare it before the
// guarded() call, so that it covers the error bookkeeping too).
class CallScope {
 public:
  explicit CallScope(ncclComm_t comm) : comm_(comm) {
    if (comm_ != nullptr) comm_->callsInside.fetch_add(1);
  }
  ~CallScope() {
    if (comm_ != nullptr) comm_->callsInside.fetch_sub(1);
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  ncclComm_t comm_;
};

// ncclCommAbort's body: aborts the communicator, waits (bounded) for other threads' calls with
// the handle to return, then frees it. Returns promptly: the aborted operations fail at once.
void abortAndFree(ncclComm_t comm, const char* reason);

// Runs `f`, turning exceptions into result codes and remembering the message (per thread and per
// communicator) for ncclGetLastError.
template <class F>
ncclResult_t guarded(ncclComm_t comm, F&& f);

void setLastError(ncclComm_t comm, const std::string& message);
const char* lastError(ncclComm_t comm);

ncclResult_t toResult(ErrorCode code);

// Group handling.
bool inGroup();
void groupStart();
// Queues (inside a group) or runs now (outside) one operation. Arguments were validated.
void enqueueOp(ncclComm_t comm, const runtime::OpArgs& args);
// The same for an operation on device buffers: enqueued on `stream` through the staged path (one
// staging round per communicator for the operations of a group). Throws at once when the staged
// path cannot be used (no usable CUDA).
void enqueueDeviceOp(ncclComm_t comm, const runtime::OpArgs& args, void* stream);
// Queues (inside a group) or runs now (outside) one communicator init.
struct InitRequest {
  ncclComm_t* out;
  runtime::UniqueId id;
  int rank;
  int nranks;
  runtime::CommOptions options;
};
void enqueueInit(const InitRequest& request);
void groupEnd();

}  // namespace plexus::api
