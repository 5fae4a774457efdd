// Memory-kind dispatch, shared by the C API (nccl_api.cpp, api_state.cpp) and the C++ API
// (cpp_api.cpp): host buffers keep the host path exactly as before (blocking, stream ignored);
// device and managed buffers go to the staged device path (runtime/staged_executor.hpp), enqueued
// on the caller's stream.
#pragma once

#include "runtime/communicator.hpp"
#include "runtime/op_args.hpp"
#include "runtime/staged_executor.hpp"

namespace plexus::api {

// True when the buffers `a` uses on this rank are device (or managed) memory, false when they are
// host (or pinned host) memory. Throws Error(kInvalidArgument) when one call mixes the two, naming
// both arguments (`inName`, `outName`) and their kinds. Where CUDA is not usable this costs two
// atomic loads and no CUDA call.
bool deviceCall(const runtime::Communicator& comm, const runtime::OpArgs& a, const char* inName,
                const char* outName);

// Before a host-buffer operation reaches the engine: device-buffer operations enqueued earlier on
// this communicator reach it first (the same order on every rank).
inline void orderAfterStaged(runtime::Communicator& comm) {
  if (auto* s = comm.stagedIfAny()) s->waitSubmitted();
}

// What ncclCommGetAsyncError reports: the engine's failure, else the staged path's. Never blocks.
ErrorCode asyncError(runtime::Communicator& comm);

}  // namespace plexus::api
