// deviceCall and asyncError: the memory-kind checks of both APIs.
#include "api/device_dispatch.hpp"

#include "base/error.hpp"
#include "base/memory_kind.hpp"
#include "runtime/staged_executor.hpp"
#include "runtime/staged_layout.hpp"

namespace plexus::api {

bool deviceCall(const runtime::Communicator& comm, const runtime::OpArgs& a, const char* inName,
                const char* outName) {
  runtime::BufferUse use = runtime::bufferUse(a, comm.rank(), comm.nranks());
  bool hasIn = a.input != nullptr && use.inputBytes > 0;
  bool hasOut = a.output != nullptr && use.outputBytes > 0;
  MemoryKind in = hasIn ? classify(a.input) : MemoryKind::kHost;
  MemoryKind out = hasOut ? classify(a.output) : MemoryKind::kHost;
  if (hasIn && hasOut && onDevice(in) != onDevice(out))
    throwError(ErrorCode::kInvalidArgument,
               "%s: %s: %s (%p) is %s memory but %s (%p) is %s memory; the buffers of one call "
               "must all be host memory or all device memory",
               comm.context().c_str(), algo::collectiveName(a.collective), inName, a.input,
               memoryKindName(in), outName, static_cast<const void*>(a.output),
               memoryKindName(out));
  return onDevice(in) || onDevice(out);
}

ErrorCode asyncError(runtime::Communicator& comm) {
  ErrorCode e = comm.engine().asyncError();
  if (e != ErrorCode::kSuccess) return e;
  e = comm.mappedAsyncError();
  if (e != ErrorCode::kSuccess) return e;
  if (auto* s = comm.stagedIfAny()) return s->asyncError();
  return ErrorCode::kSuccess;
}

}  // namespace plexus::api
