// The CUDA-tensor path's pieces (cuda_path.hpp): Plexus's NCCL functions, the communicator, the
// stream-ordered Work.
#ifdef PLEXUS_TORCH_CUDA

#include "cuda_path.hpp"

#include <ATen/core/ivalue.h>
#include <c10/cuda/CUDAGuard.h>
#include <dlfcn.h>

#include <cstring>

namespace plexus_torch {
namespace {

template <class Fn>
void resolve(void* handle, const char* name, Fn& fn, const std::string& library) {
  void* sym = dlsym(handle, name);
  if (sym == nullptr)
    throwBackendError(std::string("plexus: ") + library + " has no " + name +
                      " (rebuild plexus_torch against the Plexus it loads)");
  fn = reinterpret_cast<Fn>(sym);
}

NcclFns load() {
  // The library this module was linked to: the one that defines Plexus's C++ API.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&plexus::UniqueId::create), &info) == 0 ||
      info.dli_fname == nullptr)
    throwBackendError("plexus: cannot find the file of libplexus (dladdr failed)");
  void* handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr)
    throwBackendError(std::string("plexus: dlopen(") + info.dli_fname + ") failed: " + dlerror());
  NcclFns f;
  f.library = info.dli_fname;
  resolve(handle, "ncclCommInitRank", f.commInitRank, f.library);
  resolve(handle, "ncclCommDestroy", f.commDestroy, f.library);
  resolve(handle, "ncclCommAbort", f.commAbort, f.library);
  resolve(handle, "ncclCommGetAsyncError", f.commGetAsyncError, f.library);
  resolve(handle, "ncclGetLastError", f.getLastError, f.library);
  resolve(handle, "ncclGetErrorString", f.getErrorString, f.library);
  resolve(handle, "ncclAllReduce", f.allReduce, f.library);
  resolve(handle, "ncclBroadcast", f.broadcast, f.library);
  resolve(handle, "ncclReduce", f.reduce, f.library);
  resolve(handle, "ncclAllGather", f.allGather, f.library);
  resolve(handle, "ncclReduceScatter", f.reduceScatter, f.library);
  return f;  // the handle stays open: the library is linked anyway
}

}  // namespace

const NcclFns& ncclFns() {
  static const NcclFns fns = load();
  return fns;
}

CudaComm::CudaComm(const plexus::UniqueId& id, int rank, int size) {
  ncclUniqueId nid;
  static_assert(sizeof(nid.internal) == sizeof(id.bytes));
  std::memcpy(nid.internal, id.bytes.data(), sizeof(nid.internal));
  check(ncclFns().commInitRank(&comm_, size, nid, rank),
        "plexus: creating the communicator for CUDA tensors (rank " + std::to_string(rank) +
            " of " + std::to_string(size) + ")");
}

CudaComm::~CudaComm() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (comm_ != nullptr) ncclFns().commDestroy(comm_);
}

void CudaComm::check(ncclResult_t r, const std::string& what) const {
  if (r == ncclSuccess) return;
  const char* last = ncclFns().getLastError(comm_);
  throwBackendError(what + " failed: " + ncclFns().getErrorString(r) +
                    (last != nullptr && *last != '\0' ? std::string(": ") + last : std::string()));
}

void CudaComm::checkAsync(const std::string& what) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (comm_ == nullptr) throwBackendError(what + ": the communicator was aborted");
  ncclResult_t async = ncclSuccess;
  check(ncclFns().commGetAsyncError(comm_, &async), what);
  check(async, what);
}

void CudaComm::abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (comm_ != nullptr) ncclFns().commAbort(comm_);
  comm_ = nullptr;
}

WorkPlexusCuda::WorkPlexusCuda(int rank, c10d::OpType type, const char* profilingTitle,
                               std::string what, std::vector<at::Tensor> outputs,
                               const c10::optional<std::vector<at::Tensor>>& inputs,
                               c10::Device device, std::shared_ptr<CudaComm> comm)
    : c10d::Work(rank, type, profilingTitle, inputs),
      what_(std::move(what)),
      outputs_(std::move(outputs)),
      device_(device),
      comm_(std::move(comm)),
      future_(c10::make_intrusive<c10::ivalue::Future>(
          c10::ListType::create(c10::TensorType::get()), std::vector<c10::Device>{device})) {}

void WorkPlexusCuda::enqueued(const c10::cuda::CUDAStream& stream) {
  event_.record(stream);
  c10::cuda::CUDAStreamGuard guard(stream);
  future_->markCompleted(at::IValue(outputs_));
}

bool WorkPlexusCuda::isCompleted() {
  try {
    comm_->checkAsync(what_);
  } catch (const std::exception&) {
    return true;  // finished, with the error that wait() throws
  }
  return event_.query();
}

bool WorkPlexusCuda::wait(std::chrono::milliseconds) {
  synchronize();
  return true;
}

void WorkPlexusCuda::synchronize() {
  comm_->checkAsync(what_);
  c10::cuda::CUDAGuard guard(device_);
  event_.block(c10::cuda::getCurrentCUDAStream(device_.index()));
}

bool onCuda(const std::vector<at::Tensor>& tensors, const std::string& what) {
  if (tensors.empty() || !tensors[0].defined() || !tensors[0].is_cuda()) return false;
  for (const auto& t : tensors) checkCudaTensor(t, tensors[0].device(), what);
  return true;
}

void checkCudaTensor(const at::Tensor& t, c10::Device device, const std::string& what) {
  if (!t.defined()) throwBackendError(what + ": got an undefined tensor");
  if (t.device() != device)
    throwBackendError(what + ": all tensors must be on " + device.str() + "; got one on " +
                      t.device().str());
  if (t.layout() != c10::kStrided)
    throwBackendError(what + ": the plexus backend takes dense (strided) tensors; got layout " +
                      c10::str(t.layout()));
}

}  // namespace plexus_torch

#endif  // PLEXUS_TORCH_CUDA
