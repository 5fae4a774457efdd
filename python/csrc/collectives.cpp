// ProcessGroupPlexus (backend.hpp): all-reduce, broadcast, reduce, the all-gathers and the
// reduce-scatters, each one or more Plexus collectives on coll_.
#include "backend.hpp"

namespace plexus_torch {

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::allreduce(std::vector<at::Tensor>& tensors,
                                                             const c10d::AllreduceOptions& opts) {
#ifdef PLEXUS_TORCH_CUDA
  if (tensors.size() == 1 && onCuda(tensors, "plexus all_reduce"))
    return cudaAllreduce(tensors[0], opts);
#endif
  at::Tensor& t = single(tensors, "plexus all_reduce");
  std::string what = describe("all_reduce", t);
  ReduceSpec spec = reduceSpec(t.scalar_type(), opts.reduceOp, what);
  return start(
      Channel::kCollective,
      {c10d::OpType::ALLREDUCE, "plexus:all_reduce", what, {t}, opts.timeout, tensors},
      [&](const WorkPtr& work) {
        at::Tensor buf = work->stageOutput(t);
        applyPreMul(spec, buf);
        work->addRequest(coll_.allReduce(buf.data_ptr(), buf.data_ptr(), buf.numel() * spec.factor,
                                         spec.type, spec.op, true));
      });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::allreduce_coalesced(
    std::vector<at::Tensor>& tensors, const c10d::AllreduceCoalescedOptions& opts) {
  if (tensors.empty()) throwBackendError("plexus allreduce_coalesced: got no tensors");
  for (auto& t : tensors) checkSameShape(t, t, "plexus allreduce_coalesced", "tensor");
  for (auto& t : tensors)
    if (t.scalar_type() != tensors[0].scalar_type())
      throwBackendError("plexus allreduce_coalesced: tensors must share one dtype; got " +
                        std::string(c10::toString(tensors[0].scalar_type())) + " and " +
                        c10::toString(t.scalar_type()));
  std::vector<at::Tensor> flatParts;
  for (auto& t : tensors) flatParts.push_back(t.reshape({-1}));
  at::Tensor flat = at::cat(flatParts);
  std::string what = describe("allreduce_coalesced", flat);
  ReduceSpec spec = reduceSpec(flat.scalar_type(), opts.reduceOp, what);
  return start(
      Channel::kCollective,
      {c10d::OpType::ALLREDUCE_COALESCED, "plexus:allreduce_coalesced", what, tensors, opts.timeout,
       tensors},
      [&](const WorkPtr& work) {
        applyPreMul(spec, flat);
        work->keepAlive(flat);
        int64_t off = 0;
        for (auto& t : tensors) {
          work->copyBack(t, flat.narrow(0, off, t.numel()));
          off += t.numel();
        }
        work->addRequest(coll_.allReduce(flat.data_ptr(), flat.data_ptr(),
                                         flat.numel() * spec.factor, spec.type, spec.op, true));
      });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::broadcast(std::vector<at::Tensor>& tensors,
                                                             const c10d::BroadcastOptions& opts) {
#ifdef PLEXUS_TORCH_CUDA
  if (tensors.size() == 1 && onCuda(tensors, "plexus broadcast"))
    return cudaBroadcast(tensors[0], opts);
#endif
  at::Tensor& t = single(tensors, "plexus broadcast");
  std::string what = describe("broadcast", t);
  int root = checkRoot(what, opts.rootRank);
  return start(Channel::kCollective,
               {c10d::OpType::BROADCAST, "plexus:broadcast", what, {t}, opts.timeout, tensors},
               [&](const WorkPtr& work) {
                 // The root's tensor is only read: no copy back into it.
                 at::Tensor buf = getRank() == root ? work->stageInput(t) : work->stageOutput(t);
                 work->addRequest(coll_.broadcast(buf.data_ptr(), buf.data_ptr(), byteSize(buf),
                                                  plexus::DataType::kUint8, root, true));
               });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::reduce(std::vector<at::Tensor>& tensors,
                                                          const c10d::ReduceOptions& opts) {
#ifdef PLEXUS_TORCH_CUDA
  if (tensors.size() == 1 && onCuda(tensors, "plexus reduce")) return cudaReduce(tensors[0], opts);
#endif
  at::Tensor& t = single(tensors, "plexus reduce");
  std::string what = describe("reduce", t);
  int root = checkRoot(what, opts.rootRank);
  ReduceSpec spec = reduceSpec(t.scalar_type(), opts.reduceOp, what);
  bool isRoot = getRank() == root;
  return start(
      Channel::kCollective,
      {c10d::OpType::REDUCE, "plexus:reduce", what, {t}, opts.timeout, tensors},
      [&](const WorkPtr& work) {
        // Non-roots reduce from a copy: the ring accumulates partial results in its input.
        at::Tensor buf = isRoot ? work->stageOutput(t) : work->stageInput(t.contiguous().clone());
        applyPreMul(spec, buf);
        work->addRequest(coll_.reduce(buf.data_ptr(), isRoot ? buf.data_ptr() : nullptr,
                                      buf.numel() * spec.factor, spec.type, spec.op, root, true));
      });
}

void ProcessGroupPlexus::allGatherInto(const WorkPtr& work, const at::Tensor& input,
                                       const at::Tensor& flat) {
  work->keepAlive(input);
  work->keepAlive(flat);
  work->addRequest(coll_.allGather(input.data_ptr(), flat.data_ptr(), byteSize(input),
                                   plexus::DataType::kUint8, true));
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::allgather(
    std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::AllgatherOptions& opts) {
#ifdef PLEXUS_TORCH_CUDA
  if (inputs.size() == 1 && outputs.size() == 1 && onCuda(inputs, "plexus all_gather"))
    return cudaAllgather(outputs[0], inputs[0], opts);
#endif
  at::Tensor& in = single(inputs, "plexus all_gather");
  std::string what = describe("all_gather", in);
  if (outputs.size() != 1 || outputs[0].size() != static_cast<size_t>(getSize()))
    throwBackendError(what + ": needs one list of " + std::to_string(getSize()) +
                      " output tensors");
  for (auto& o : outputs[0]) checkSameShape(o, in, what, "an output tensor");
  return start(
      Channel::kCollective,
      {c10d::OpType::ALLGATHER, "plexus:all_gather", what, outputs[0], opts.timeout, inputs},
      [&](const WorkPtr& work) {
        at::Tensor flat = work->buffer({getSize(), in.numel()}, in);
        for (int64_t r = 0; r < getSize(); ++r)
          work->copyBack(outputs[0][static_cast<size_t>(r)], flat[r]);
        allGatherInto(work, work->stageInput(in), flat);
      });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::_allgather_base(
    at::Tensor& output, at::Tensor& input, const c10d::AllgatherOptions& opts) {
#ifdef PLEXUS_TORCH_CUDA
  if (input.defined() && input.is_cuda()) return cudaAllgatherBase(output, input, opts);
#endif
  checkTensor(input, "plexus all_gather_into_tensor");
  checkTensor(output, "plexus all_gather_into_tensor");
  std::string what = describe("all_gather_into_tensor", input);
  if (output.scalar_type() != input.scalar_type() || output.numel() != input.numel() * getSize())
    throwBackendError(what + ": the output must be a " + c10::toString(input.scalar_type()) +
                      " tensor of " + std::to_string(input.numel() * getSize()) +
                      " elements (input x group size); got " + std::to_string(output.numel()) +
                      " x " + c10::toString(output.scalar_type()));
  return start(Channel::kCollective,
               {c10d::OpType::_ALLGATHER_BASE,
                "plexus:_allgather_base",
                what,
                {output},
                opts.timeout,
                std::vector<at::Tensor>{input}},
               [&](const WorkPtr& work) {
                 allGatherInto(work, work->stageInput(input), work->stageOutput(output));
               });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::allgather_coalesced(
    std::vector<std::vector<at::Tensor>>& outputLists, std::vector<at::Tensor>& inputs,
    const c10d::AllgatherOptions& opts) {
  if (outputLists.size() != static_cast<size_t>(getSize()))
    throwBackendError("plexus allgather_coalesced: needs " + std::to_string(getSize()) +
                      " output lists (one per rank); got " + std::to_string(outputLists.size()));
  for (auto& list : outputLists) {
    if (list.size() != inputs.size())
      throwBackendError("plexus allgather_coalesced: each output list needs " +
                        std::to_string(inputs.size()) + " tensors (one per input)");
    for (size_t i = 0; i < inputs.size(); ++i)
      checkSameShape(list[i], inputs[i], "plexus allgather_coalesced", "an output tensor");
  }
  std::vector<at::Tensor> allOutputs;
  for (auto& list : outputLists) allOutputs.insert(allOutputs.end(), list.begin(), list.end());
  return start(Channel::kCollective,
               {c10d::OpType::ALLGATHER_COALESCED, "plexus:allgather_coalesced",
                "plexus allgather_coalesced of " + std::to_string(inputs.size()) + " tensors",
                allOutputs, opts.timeout, inputs},
               [&](const WorkPtr& work) {
                 for (size_t i = 0; i < inputs.size(); ++i) {
                   at::Tensor flat = work->buffer({getSize(), inputs[i].numel()}, inputs[i]);
                   for (size_t r = 0; r < outputLists.size(); ++r)
                     work->copyBack(outputLists[r][i], flat[static_cast<int64_t>(r)]);
                   allGatherInto(work, work->stageInput(inputs[i]), flat);
                 }
               });
}

void ProcessGroupPlexus::reduceScatterInto(const WorkPtr& work, const at::Tensor& dst,
                                           at::Tensor in, bool inputIsCopy,
                                           const ReduceSpec& spec) {
  if (spec.preMul.index() != 0) {
    if (!inputIsCopy) in = in.clone();
    applyPreMul(spec, in);
  }
  work->keepAlive(in);
  work->keepAlive(dst);
  work->addRequest(coll_.reduceScatter(in.data_ptr(), dst.data_ptr(), dst.numel() * spec.factor,
                                       spec.type, spec.op, true));
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::reduce_scatter(
    std::vector<at::Tensor>& outputs, std::vector<std::vector<at::Tensor>>& inputs,
    const c10d::ReduceScatterOptions& opts) {
  at::Tensor& out = single(outputs, "plexus reduce_scatter");
  std::string what = describe("reduce_scatter", out);
  if (inputs.size() != 1 || inputs[0].size() != static_cast<size_t>(getSize()))
    throwBackendError(what + ": needs one list of " + std::to_string(getSize()) + " input tensors");
  std::vector<at::Tensor> parts;
  for (auto& t : inputs[0]) {
    checkSameShape(t, out, what, "an input tensor");
    parts.push_back(t.reshape({-1}));
  }
  ReduceSpec spec = reduceSpec(out.scalar_type(), opts.reduceOp, what);
  at::Tensor flat = at::cat(parts);
  return start(Channel::kCollective,
               {c10d::OpType::REDUCE_SCATTER,
                "plexus:reduce_scatter",
                what,
                {out},
                opts.timeout,
                std::vector<at::Tensor>{flat}},
               [&](const WorkPtr& work) {
                 reduceScatterInto(work, work->stageOutput(out), flat, true, spec);
               });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::_reduce_scatter_base(
    at::Tensor& output, at::Tensor& input, const c10d::ReduceScatterOptions& opts) {
#ifdef PLEXUS_TORCH_CUDA
  if (output.defined() && output.is_cuda()) return cudaReduceScatterBase(output, input, opts);
#endif
  checkTensor(output, "plexus reduce_scatter_tensor");
  checkTensor(input, "plexus reduce_scatter_tensor");
  std::string what = describe("reduce_scatter_tensor", output);
  if (input.scalar_type() != output.scalar_type() || input.numel() != output.numel() * getSize())
    throwBackendError(what + ": the input must be a " + c10::toString(output.scalar_type()) +
                      " tensor of " + std::to_string(output.numel() * getSize()) +
                      " elements (output x group size); got " + std::to_string(input.numel()) +
                      " x " + c10::toString(input.scalar_type()));
  ReduceSpec spec = reduceSpec(output.scalar_type(), opts.reduceOp, what);
  return start(Channel::kCollective,
               {c10d::OpType::_REDUCE_SCATTER_BASE,
                "plexus:_reduce_scatter_base",
                what,
                {output},
                opts.timeout,
                std::vector<at::Tensor>{input}},
               [&](const WorkPtr& work) {
                 at::Tensor in = work->stageInput(input);
                 reduceScatterInto(work, work->stageOutput(output), in, !in.is_same(input), spec);
               });
}

#if PLEXUS_TORCH_AT_LEAST(2, 1)
c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::allgather_into_tensor_coalesced(
    std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::AllgatherOptions& opts) {
  if (outputs.size() != inputs.size())
    throwBackendError("plexus allgather_into_tensor_coalesced: " + std::to_string(outputs.size()) +
                      " outputs for " + std::to_string(inputs.size()) + " inputs");
  for (size_t i = 0; i < inputs.size(); ++i) {
    checkTensor(inputs[i], "plexus allgather_into_tensor_coalesced");
    checkTensor(outputs[i], "plexus allgather_into_tensor_coalesced");
    if (outputs[i].numel() != inputs[i].numel() * getSize() ||
        outputs[i].scalar_type() != inputs[i].scalar_type())
      throwBackendError("plexus allgather_into_tensor_coalesced: output " + std::to_string(i) +
                        " must have the input's dtype and group size x its elements");
  }
  return start(
      Channel::kCollective,
      {c10d::OpType::ALLGATHER_INTO_TENSOR_COALESCED, "plexus:allgather_into_tensor_coalesced",
       "plexus allgather_into_tensor_coalesced of " + std::to_string(inputs.size()) + " tensors",
       outputs, opts.timeout, inputs},
      [&](const WorkPtr& work) {
        for (size_t i = 0; i < inputs.size(); ++i)
          allGatherInto(work, work->stageInput(inputs[i]), work->stageOutput(outputs[i]));
      });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::reduce_scatter_tensor_coalesced(
    std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::ReduceScatterOptions& opts) {
  const std::string what =
      "plexus reduce_scatter_tensor_coalesced of " + std::to_string(inputs.size()) + " tensors";
  if (outputs.size() != inputs.size() || outputs.empty())
    throwBackendError("plexus reduce_scatter_tensor_coalesced: " + std::to_string(outputs.size()) +
                      " outputs for " + std::to_string(inputs.size()) + " inputs");
  std::vector<ReduceSpec> specs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    checkTensor(inputs[i], "plexus reduce_scatter_tensor_coalesced");
    checkTensor(outputs[i], "plexus reduce_scatter_tensor_coalesced");
    if (inputs[i].numel() != outputs[i].numel() * getSize() ||
        outputs[i].scalar_type() != inputs[i].scalar_type())
      throwBackendError("plexus reduce_scatter_tensor_coalesced: input " + std::to_string(i) +
                        " must have the output's dtype and group size x its elements");
    specs.push_back(reduceSpec(outputs[i].scalar_type(), opts.reduceOp,
                               describe("reduce_scatter_tensor_coalesced", outputs[i])));
  }
  return start(Channel::kCollective,
               {c10d::OpType::REDUCE_SCATTER_TENSOR_COALESCED,
                "plexus:reduce_scatter_tensor_coalesced", what, outputs, opts.timeout, inputs},
               [&](const WorkPtr& work) {
                 for (size_t i = 0; i < inputs.size(); ++i) {
                   at::Tensor in = work->stageInput(inputs[i]);
                   reduceScatterInto(work, work->stageOutput(outputs[i]), in,
                                     !in.is_same(inputs[i]), specs[i]);
                 }
               });
}
#endif

}  // namespace plexus_torch
