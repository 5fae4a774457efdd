// CUDA tensors (built only when the PyTorch it builds against has CUDA: setup.py defines
// PLEXUS_TORCH_CUDA). Collectives on CUDA tensors go through Plexus's NCCL C API on a third
// communicator, made on first use: the tensor's data pointer and torch's current CUDA stream are
// passed to ncclAllReduce & co, which enqueue the operation on that stream and return (NCCL's
// semantics: later work on the stream sees the result). The Work records a CUDA event on the
// stream after the call; wait() makes the caller's current stream wait for it (the host does not
// block), is_completed() queries it, and the Future is a CUDA future completed on the stream.
//
// The NCCL functions are looked up in the libplexus this module is linked to (dlsym on its
// handle), never by plain linking: PyTorch loads NVIDIA's libnccl.so.2, whose ncclAllReduce would
// otherwise take precedence in the global scope and receive a Plexus communicator.
#pragma once

#ifdef PLEXUS_TORCH_CUDA

#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "compat.hpp"
#include "plexus/nccl.h"
#include "plexus/plexus.hpp"

namespace plexus_torch {

// The Plexus NCCL entry points the CUDA path calls.
struct NcclFns {
  decltype(&ncclCommInitRank) commInitRank;
  decltype(&ncclCommDestroy) commDestroy;
  decltype(&ncclCommAbort) commAbort;
  decltype(&ncclCommGetAsyncError) commGetAsyncError;
  decltype(&ncclGetLastError) getLastError;
  decltype(&ncclGetErrorString) getErrorString;
  decltype(&ncclAllReduce) allReduce;
  decltype(&ncclBroadcast) broadcast;
  decltype(&ncclReduce) reduce;
  decltype(&ncclAllGather) allGather;
  decltype(&ncclReduceScatter) reduceScatter;
  std::string library;  // the file they were found in
};
// Resolved once from the libplexus this module links (throws naming a missing symbol).
const NcclFns& ncclFns();

// One Plexus NCCL communicator for CUDA tensors.
class CudaComm {
 public:
  CudaComm(const plexus::UniqueId& id, int rank, int size);
  ~CudaComm();
  CudaComm(const CudaComm&) = delete;
  CudaComm& operator=(const CudaComm&) = delete;

  ncclComm_t get() const { return comm_; }
  // Throws `what`: the call's result and Plexus's last error, unless `r` is ncclSuccess.
  void check(ncclResult_t r, const std::string& what) const;
  // Throws if an operation enqueued earlier failed asynchronously.
  void checkAsync(const std::string& what) const;
  void abort();

 private:
  mutable std::mutex mutex_;
  ncclComm_t comm_ = nullptr;
};

class WorkPlexusCuda : public c10d::Work {
 public:
  WorkPlexusCuda(int rank, c10d::OpType type, const char* profilingTitle, std::string what,
                 std::vector<at::Tensor> outputs,
                 const c10::optional<std::vector<at::Tensor>>& inputs, c10::Device device,
                 std::shared_ptr<CudaComm> comm);

  // After the operation was enqueued on `stream` (the current stream): records the completion
  // event there and completes the future (which tracks the stream itself).
  void enqueued(const c10::cuda::CUDAStream& stream);

  bool isCompleted() override;
  bool wait(std::chrono::milliseconds timeout) override;
  void synchronize() override;
  std::vector<at::Tensor> result() override { return outputs_; }
  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override { return future_; }

 private:
  std::string what_;
  std::vector<at::Tensor> outputs_;
  c10::Device device_;
  std::shared_ptr<CudaComm> comm_;
  at::cuda::CUDAEvent event_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
};

// True when the (first) tensor of an operation is a CUDA tensor; then all must be, on one device.
bool onCuda(const std::vector<at::Tensor>& tensors, const std::string& what);
// Throws unless `t` is a dense CUDA tensor on `device`.
void checkCudaTensor(const at::Tensor& t, c10::Device device, const std::string& what);

}  // namespace plexus_torch

#endif  // PLEXUS_TORCH_CUDA
