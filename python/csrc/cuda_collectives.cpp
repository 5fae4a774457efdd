// ProcessGroupPlexus on CUDA tensors (backend.hpp, cuda_path.hpp): all-reduce, broadcast, reduce,
// all-gather (list and into one tensor) and reduce-scatter into one tensor, each one call of
// Plexus's NCCL C API with the tensor's data pointer and torch's current CUDA stream. Staging
// (contiguous copies, PREMUL_SUM scaling, copies out of a gathered buffer) runs on the same
// stream, so it is ordered with the operation without any host synchronisation.
#ifdef PLEXUS_TORCH_CUDA

#include <c10/cuda/CUDAGuard.h>

#include "backend.hpp"

namespace plexus_torch {
namespace {

ncclDataType_t ncclType(plexus::DataType t) {
  return static_cast<ncclDataType_t>(static_cast<int>(t));  // equal values (types.hpp)
}
ncclRedOp_t ncclOp(plexus::RedOp op) {
  return static_cast<ncclRedOp_t>(static_cast<int>(op));
}

// `t` itself when contiguous, else a contiguous copy (on the current stream).
at::Tensor dense(const at::Tensor& t) {
  return t.is_contiguous() ? t : t.contiguous();
}
void copyBackIfStaged(at::Tensor& t, const at::Tensor& buf) {
  if (!buf.is_same(t)) t.copy_(buf);
}

}  // namespace

template <class Enqueue>
c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::startCuda(OpInfo info, c10::Device device,
                                                             Enqueue&& enqueue) {
  c10::cuda::CUDAGuard guard(device);
  c10::cuda::CUDAStream stream = c10::cuda::getCurrentCUDAStream(device.index());
  std::lock_guard<std::mutex> lock(collMutex_);
  if (!cuda_) {  // every rank gets here at its first CUDA collective, in the same order
    cuda_ = std::make_shared<CudaComm>(exchangeId(*store_, getRank(), 2), getRank(), getSize());
  }
  auto work =
      c10::make_intrusive<WorkPlexusCuda>(getRank(), info.type, info.title, info.what,
                                          std::move(info.outputs), info.inputs, device, cuda_);
  enqueue(*cuda_, stream.stream());
  work->enqueued(stream);
  ++seq_;
  // Not added to an open coalescing group: the group's Work waits for host-path Works; these are
  // ordered on the caller's current stream already.
  return work;
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::cudaAllreduce(
    at::Tensor& t, const c10d::AllreduceOptions& opts) {
  std::string what = describe("all_reduce", t);
  ReduceSpec spec = reduceSpec(t.scalar_type(), opts.reduceOp, what);
  return startCuda(
      {c10d::OpType::ALLREDUCE,
       "plexus:all_reduce",
       what,
       {t},
       opts.timeout,
       std::vector<at::Tensor>{t}},
      t.device(), [&](CudaComm& comm, cudaStream_t stream) {
        at::Tensor buf = dense(t);
        applyPreMul(spec, buf);
        comm.check(ncclFns().allReduce(buf.data_ptr(), buf.data_ptr(), buf.numel() * spec.factor,
                                       ncclType(spec.type), ncclOp(spec.op), comm.get(), stream),
                   what);
        copyBackIfStaged(t, buf);
      });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::cudaBroadcast(
    at::Tensor& t, const c10d::BroadcastOptions& opts) {
  std::string what = describe("broadcast", t);
  int root = checkRoot(what, opts.rootRank);
  return startCuda({c10d::OpType::BROADCAST,
                    "plexus:broadcast",
                    what,
                    {t},
                    opts.timeout,
                    std::vector<at::Tensor>{t}},
                   t.device(), [&](CudaComm& comm, cudaStream_t stream) {
                     at::Tensor buf = dense(t);
                     comm.check(ncclFns().broadcast(buf.data_ptr(), buf.data_ptr(), byteSize(buf),
                                                    ncclUint8, root, comm.get(), stream),
                                what);
                     if (getRank() != root) copyBackIfStaged(t, buf);
                   });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::cudaReduce(at::Tensor& t,
                                                              const c10d::ReduceOptions& opts) {
  std::string what = describe("reduce", t);
  int root = checkRoot(what, opts.rootRank);
  ReduceSpec spec = reduceSpec(t.scalar_type(), opts.reduceOp, what);
  bool isRoot = getRank() == root;
  return startCuda(
      {c10d::OpType::REDUCE, "plexus:reduce", what, {t}, opts.timeout, std::vector<at::Tensor>{t}},
      t.device(), [&](CudaComm& comm, cudaStream_t stream) {
        // Non-roots reduce from a copy (their tensor is left as it was, as on CPU tensors).
        at::Tensor buf = isRoot ? dense(t) : t.contiguous().clone();
        applyPreMul(spec, buf);
        comm.check(ncclFns().reduce(buf.data_ptr(), isRoot ? buf.data_ptr() : nullptr,
                                    buf.numel() * spec.factor, ncclType(spec.type), ncclOp(spec.op),
                                    root, comm.get(), stream),
                   what);
        if (isRoot) copyBackIfStaged(t, buf);
      });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::cudaAllgather(
    std::vector<at::Tensor>& outputs, at::Tensor& input, const c10d::AllgatherOptions& opts) {
  std::string what = describe("all_gather", input);
  if (outputs.size() != static_cast<size_t>(getSize()))
    throwBackendError(what + ": needs one list of " + std::to_string(getSize()) +
                      " output tensors");
  for (auto& o : outputs) {
    checkCudaTensor(o, input.device(), what);
    if (o.scalar_type() != input.scalar_type() || o.numel() != input.numel())
      throwBackendError(what + ": every output tensor needs the input's dtype and size");
  }
  return startCuda(
      {c10d::OpType::ALLGATHER, "plexus:all_gather", what, outputs, opts.timeout,
       std::vector<at::Tensor>{input}},
      input.device(), [&](CudaComm& comm, cudaStream_t stream) {
        at::Tensor in = dense(input);
        at::Tensor flat = at::empty({getSize(), in.numel()}, in.options());
        comm.check(ncclFns().allGather(in.data_ptr(), flat.data_ptr(), byteSize(in), ncclUint8,
                                       comm.get(), stream),
                   what);
        for (int64_t r = 0; r < getSize(); ++r)
          outputs[static_cast<size_t>(r)].copy_(flat[r].view_as(outputs[static_cast<size_t>(r)]));
      });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::cudaAllgatherBase(
    at::Tensor& output, at::Tensor& input, const c10d::AllgatherOptions& opts) {
  std::string what = describe("all_gather_into_tensor", input);
  checkCudaTensor(output, input.device(), what);
  if (output.scalar_type() != input.scalar_type() || output.numel() != input.numel() * getSize())
    throwBackendError(what + ": the output must be a " + c10::toString(input.scalar_type()) +
                      " tensor of " + std::to_string(input.numel() * getSize()) +
                      " elements (input x group size)");
  return startCuda({c10d::OpType::_ALLGATHER_BASE,
                    "plexus:_allgather_base",
                    what,
                    {output},
                    opts.timeout,
                    std::vector<at::Tensor>{input}},
                   input.device(), [&](CudaComm& comm, cudaStream_t stream) {
                     at::Tensor in = dense(input);
                     at::Tensor out = dense(output);
                     comm.check(ncclFns().allGather(in.data_ptr(), out.data_ptr(), byteSize(in),
                                                    ncclUint8, comm.get(), stream),
                                what);
                     copyBackIfStaged(output, out);
                   });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::cudaReduceScatterBase(
    at::Tensor& output, at::Tensor& input, const c10d::ReduceScatterOptions& opts) {
  std::string what = describe("reduce_scatter_tensor", output);
  checkCudaTensor(input, output.device(), what);
  if (input.scalar_type() != output.scalar_type() || input.numel() != output.numel() * getSize())
    throwBackendError(what + ": the input must be a " + c10::toString(output.scalar_type()) +
                      " tensor of " + std::to_string(output.numel() * getSize()) +
                      " elements (output x group size)");
  ReduceSpec spec = reduceSpec(output.scalar_type(), opts.reduceOp, what);
  return startCuda({c10d::OpType::_REDUCE_SCATTER_BASE,
                    "plexus:_reduce_scatter_base",
                    what,
                    {output},
                    opts.timeout,
                    std::vector<at::Tensor>{input}},
                   output.device(), [&](CudaComm& comm, cudaStream_t stream) {
                     at::Tensor in = dense(input);
                     if (spec.preMul.index() != 0) {
                       if (in.is_same(input)) in = in.clone();  // the caller's input stays unscaled
                       applyPreMul(spec, in);
                     }
                     at::Tensor out = dense(output);
                     comm.check(ncclFns().reduceScatter(
                                    in.data_ptr(), out.data_ptr(), out.numel() * spec.factor,
                                    ncclType(spec.type), ncclOp(spec.op), comm.get(), stream),
                                what);
                     copyBackIfStaged(output, out);
                   });
}

}  // namespace plexus_torch

#endif  // PLEXUS_TORCH_CUDA
