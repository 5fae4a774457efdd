// The guarded() template of api_state.hpp: exceptions become NCCL result codes plus a message.
#pragma once

#include <new>

#include "api/api_state.hpp"
#include "base/error.hpp"
#include "base/log.hpp"

namespace plexus::api {

template <class F>
ncclResult_t guarded(ncclComm_t comm, F&& f) {
  try {
    f();
    return ncclSuccess;
  } catch (const Error& e) {
    setLastError(comm, e.what());
    PLEXUS_INFO(subsys::kAll, "error returned to the caller: %s", e.what());
    return toResult(e.code());
  } catch (const std::bad_alloc&) {
    setLastError(comm, "out of host memory");
    return ncclSystemError;
  } catch (const std::exception& e) {
    setLastError(comm, std::string("internal error: ") + e.what());
    return ncclInternalError;
  }
}

}  // namespace plexus::api
