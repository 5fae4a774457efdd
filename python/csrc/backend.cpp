// ProcessGroupPlexus (backend.hpp): rendezvous through the c10d store, and every operation.
#include "backend.hpp"

#include <pybind11/pybind11.h>

#include <cstring>
#include <optional>

#include "tensor_args.hpp"

namespace plexus_torch {
namespace {

constexpr const char* kUniqueIdKey = "plexus_torch/unique_id/";

plexus::UniqueId exchangeId(const c10d::Store& constStore, int rank, int which) {
  auto& store = const_cast<c10d::Store&>(constStore);
  std::string key = kUniqueIdKey + std::to_string(which);
  plexus::UniqueId id;
  if (rank == 0) {
    id = plexus::UniqueId::create();
    std::vector<uint8_t> bytes(id.bytes.size());
    std::memcpy(bytes.data(), id.bytes.data(), bytes.size());
    store.set(key, bytes);
  } else {
    std::vector<uint8_t> bytes = store.get(key);
    if (bytes.size() != id.bytes.size())
      throwBackendError("plexus: the unique id in the store under '" + key + "' has " +
                        std::to_string(bytes.size()) + " bytes, expected " +
                        std::to_string(id.bytes.size()));
    std::memcpy(id.bytes.data(), bytes.data(), bytes.size());
  }
  return id;
}

// Runs a Plexus submission; its immediate errors (bad arguments) name the operation.
template <class F>
plexus::Request submit(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const plexus::Error& e) {
    throwBackendError(what + ": " + e.what());
  }
}

at::Tensor contiguousOf(const at::Tensor& t) {
  return t.is_contiguous() ? t : t.contiguous();
}

}  // namespace

ProcessGroupPlexus::ProcessGroupPlexus(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                       int size, std::chrono::milliseconds timeout)
    : BackendBase(rank, size), timeout_(timeout) {
  try {
    plexus::Communicator::Options o;
    o.name = "torch";
    coll_ = plexus::Communicator::init(exchangeId(*store, rank, 0), rank, size, o);
    o.name = "torch p2p";
    p2p_ = std::make_unique<P2PMatcher>(
        plexus::Communicator::init(exchangeId(*store, rank, 1), rank, size, o));
  } catch (const plexus::Error& e) {
    throwBackendError(std::string("plexus: creating the process group (rank ") +
                      std::to_string(rank) + " of " + std::to_string(size) +
                      ") failed: " + e.what());
  }
  completer_ = std::make_unique<Completer>();
}

ProcessGroupPlexus::~ProcessGroupPlexus() {
  // The helper threads may be running Python future callbacks that need the GIL: never join
  // them while holding it.
  std::optional<pybind11::gil_scoped_release> noGil;
  if (Py_IsInitialized() && PyGILState_Check()) noGil.emplace();
  // Works still pending would never finish once the communicators are gone: fail them first.
  if (completer_ && completer_->pending() > 0) abortAll();
  p2p_.reset();  // fails receives still waiting for a message
  completer_.reset();
}

void ProcessGroupPlexus::abortAll() {
  if (coll_) coll_.abort();
  if (p2p_) p2p_->abort();
}

std::chrono::milliseconds ProcessGroupPlexus::effective(std::chrono::milliseconds opTimeout) const {
  return opTimeout.count() > 0 ? opTimeout : timeout_;
}

c10::intrusive_ptr<WorkPlexus> ProcessGroupPlexus::makeWork(
    c10d::OpType type, const char* title, std::string what, std::vector<at::Tensor> outputs,
    std::chrono::milliseconds opTimeout, const c10::optional<std::vector<at::Tensor>>& inputs) {
  return c10::make_intrusive<WorkPlexus>(getRank(), type, title, std::move(what),
                                         std::move(outputs), effective(opTimeout), inputs);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::launch(
    const c10::intrusive_ptr<WorkPlexus>& work) {
  completer_->add(work);
  if (coalescing_) coalesced_.push_back(work);
  return work;
}

void ProcessGroupPlexus::setSequenceNumberForGroup() {
  std::lock_guard<std::mutex> lock(collMutex_);
  seq_ = 0;
}

uint64_t ProcessGroupPlexus::getSequenceNumberForGroup() {
  std::lock_guard<std::mutex> lock(collMutex_);
  return seq_;
}

// ---- collectives on coll_ -------------------------------------------------------------------

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::allreduce(std::vector<at::Tensor>& tensors,
                                                             const c10d::AllreduceOptions& opts) {
  at::Tensor& t = single(tensors, "plexus all_reduce");
  std::string what = describe("all_reduce", t);
  ReduceSpec spec = reduceSpec(t.scalar_type(), opts.reduceOp, what);
  auto work =
      makeWork(c10d::OpType::ALLREDUCE, "plexus:all_reduce", what, {t}, opts.timeout, tensors);
  at::Tensor buf = contiguousOf(t);
  applyPreMul(spec, buf);
  work->keepAlive(buf);
  if (!buf.is_same(t)) work->setFinisher([t, buf]() mutable { t.copy_(buf); });
  std::lock_guard<std::mutex> lock(collMutex_);
  work->addRequest(submit(what, [&] {
    return coll_.allReduce(buf.data_ptr(), buf.data_ptr(), buf.numel() * spec.factor, spec.type,
                           spec.op, true);
  }));
  ++seq_;
  return launch(work);
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
  applyPreMul(spec, flat);
  auto work = makeWork(c10d::OpType::ALLREDUCE_COALESCED, "plexus:allreduce_coalesced", what,
                       tensors, opts.timeout, tensors);
  work->keepAlive(flat);
  std::vector<at::Tensor> outs = tensors;
  work->setFinisher([outs, flat]() mutable {
    int64_t off = 0;
    for (auto& t : outs) {
      t.copy_(flat.narrow(0, off, t.numel()).view(t.sizes()));
      off += t.numel();
    }
  });
  std::lock_guard<std::mutex> lock(collMutex_);
  work->addRequest(submit(what, [&] {
    return coll_.allReduce(flat.data_ptr(), flat.data_ptr(), flat.numel() * spec.factor, spec.type,
                           spec.op, true);
  }));
  ++seq_;
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::broadcast(std::vector<at::Tensor>& tensors,
                                                             const c10d::BroadcastOptions& opts) {
  at::Tensor& t = single(tensors, "plexus broadcast");
  std::string what = describe("broadcast", t);
  if (opts.rootRank < 0 || opts.rootRank >= getSize())
    throwBackendError(what + ": root " + std::to_string(opts.rootRank) + " is not a rank of this " +
                      std::to_string(getSize()) + "-rank group");
  auto work =
      makeWork(c10d::OpType::BROADCAST, "plexus:broadcast", what, {t}, opts.timeout, tensors);
  at::Tensor buf = contiguousOf(t);
  work->keepAlive(buf);
  if (!buf.is_same(t) && getRank() != opts.rootRank)
    work->setFinisher([t, buf]() mutable { t.copy_(buf); });
  std::lock_guard<std::mutex> lock(collMutex_);
  work->addRequest(submit(what, [&] {
    return coll_.broadcast(buf.data_ptr(), buf.data_ptr(), byteSize(buf), plexus::DataType::kUint8,
                           static_cast<int>(opts.rootRank), true);
  }));
  ++seq_;
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::reduce(std::vector<at::Tensor>& tensors,
                                                          const c10d::ReduceOptions& opts) {
  at::Tensor& t = single(tensors, "plexus reduce");
  std::string what = describe("reduce", t);
  if (opts.rootRank < 0 || opts.rootRank >= getSize())
    throwBackendError(what + ": root " + std::to_string(opts.rootRank) + " is not a rank of this " +
                      std::to_string(getSize()) + "-rank group");
  ReduceSpec spec = reduceSpec(t.scalar_type(), opts.reduceOp, what);
  bool root = getRank() == opts.rootRank;
  auto work = makeWork(c10d::OpType::REDUCE, "plexus:reduce", what, {t}, opts.timeout, tensors);
  // Non-roots reduce from a copy: the ring accumulates partial results in its input.
  at::Tensor buf = root ? contiguousOf(t) : t.contiguous().clone();
  applyPreMul(spec, buf);
  work->keepAlive(buf);
  if (root && !buf.is_same(t)) work->setFinisher([t, buf]() mutable { t.copy_(buf); });
  std::lock_guard<std::mutex> lock(collMutex_);
  work->addRequest(submit(what, [&] {
    return coll_.reduce(buf.data_ptr(), root ? buf.data_ptr() : nullptr, buf.numel() * spec.factor,
                        spec.type, spec.op, static_cast<int>(opts.rootRank), true);
  }));
  ++seq_;
  return launch(work);
}

void ProcessGroupPlexus::allGatherInto(const c10::intrusive_ptr<WorkPlexus>& work,
                                       const at::Tensor& input, const at::Tensor& flat) {
  work->keepAlive(input);
  work->keepAlive(flat);
  work->addRequest(submit(work->what(), [&] {
    return coll_.allGather(input.data_ptr(), flat.data_ptr(), byteSize(input),
                           plexus::DataType::kUint8, true);
  }));
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::allgather(
    std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::AllgatherOptions& opts) {
  at::Tensor& in = single(inputs, "plexus all_gather");
  std::string what = describe("all_gather", in);
  if (outputs.size() != 1 || outputs[0].size() != static_cast<size_t>(getSize()))
    throwBackendError(what + ": needs one list of " + std::to_string(getSize()) +
                      " output tensors");
  for (auto& o : outputs[0]) checkSameShape(o, in, what, "an output tensor");
  auto work = makeWork(c10d::OpType::ALLGATHER, "plexus:all_gather", what, outputs[0], opts.timeout,
                       inputs);
  at::Tensor src = contiguousOf(in);
  at::Tensor flat =
      at::empty({getSize(), in.numel()}, in.options().memory_format(c10::MemoryFormat::Contiguous));
  std::vector<at::Tensor> outs = outputs[0];
  work->setFinisher([outs, flat]() mutable {
    for (size_t r = 0; r < outs.size(); ++r)
      outs[r].copy_(flat[static_cast<int64_t>(r)].view(outs[r].sizes()));
  });
  std::lock_guard<std::mutex> lock(collMutex_);
  allGatherInto(work, src, flat);
  ++seq_;
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::_allgather_base(
    at::Tensor& output, at::Tensor& input, const c10d::AllgatherOptions& opts) {
  checkTensor(input, "plexus all_gather_into_tensor");
  checkTensor(output, "plexus all_gather_into_tensor");
  std::string what = describe("all_gather_into_tensor", input);
  if (output.scalar_type() != input.scalar_type() || output.numel() != input.numel() * getSize())
    throwBackendError(what + ": the output must be a " + c10::toString(input.scalar_type()) +
                      " tensor of " + std::to_string(input.numel() * getSize()) +
                      " elements (input x group size); got " + std::to_string(output.numel()) +
                      " x " + c10::toString(output.scalar_type()));
  auto work = makeWork(c10d::OpType::_ALLGATHER_BASE, "plexus:_allgather_base", what, {output},
                       opts.timeout, std::vector<at::Tensor>{input});
  at::Tensor src = contiguousOf(input);
  at::Tensor dst = contiguousOf(output);
  if (!dst.is_same(output)) work->setFinisher([output, dst]() mutable { output.copy_(dst); });
  std::lock_guard<std::mutex> lock(collMutex_);
  allGatherInto(work, src, dst);
  ++seq_;
  return launch(work);
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
  auto work =
      makeWork(c10d::OpType::ALLGATHER_COALESCED, "plexus:allgather_coalesced",
               "plexus allgather_coalesced of " + std::to_string(inputs.size()) + " tensors",
               allOutputs, opts.timeout, inputs);
  std::vector<at::Tensor> flats;
  for (auto& in : inputs)
    flats.push_back(at::empty({getSize(), in.numel()},
                              in.options().memory_format(c10::MemoryFormat::Contiguous)));
  auto lists = outputLists;
  work->setFinisher([lists, flats]() mutable {
    for (size_t r = 0; r < lists.size(); ++r)
      for (size_t i = 0; i < flats.size(); ++i)
        lists[r][i].copy_(flats[i][static_cast<int64_t>(r)].view(lists[r][i].sizes()));
  });
  std::lock_guard<std::mutex> lock(collMutex_);
  for (size_t i = 0; i < inputs.size(); ++i) allGatherInto(work, contiguousOf(inputs[i]), flats[i]);
  ++seq_;
  return launch(work);
}

c10::intrusive_ptr<WorkPlexus> ProcessGroupPlexus::reduceScatterFlat(
    at::Tensor& output, const at::Tensor& flatIn, bool inputIsCopy, const c10d::ReduceOp& op,
    std::chrono::milliseconds opTimeout, const char* title, c10d::OpType type,
    const c10::intrusive_ptr<WorkPlexus>& into) {
  std::string what = describe(title + 7, output);  // title is "plexus:<name>"
  ReduceSpec spec = reduceSpec(output.scalar_type(), op, what);
  at::Tensor in = flatIn;
  if (spec.preMul.index() != 0) {
    if (!inputIsCopy) in = in.clone();
    applyPreMul(spec, in);
  }
  c10::intrusive_ptr<WorkPlexus> work =
      into ? into
           : makeWork(type, title, what, {output}, opTimeout, std::vector<at::Tensor>{flatIn});
  at::Tensor dst = contiguousOf(output);
  work->keepAlive(in);
  work->keepAlive(dst);
  if (!into && !dst.is_same(output))
    work->setFinisher([output, dst]() mutable { output.copy_(dst); });
  work->addRequest(submit(what, [&] {
    return coll_.reduceScatter(in.data_ptr(), dst.data_ptr(), dst.numel() * spec.factor, spec.type,
                               spec.op, true);
  }));
  return work;
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
  at::Tensor flat = at::cat(parts);
  std::lock_guard<std::mutex> lock(collMutex_);
  auto work = reduceScatterFlat(out, flat, true, opts.reduceOp, opts.timeout,
                                "plexus:reduce_scatter", c10d::OpType::REDUCE_SCATTER, {});
  ++seq_;
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::_reduce_scatter_base(
    at::Tensor& output, at::Tensor& input, const c10d::ReduceScatterOptions& opts) {
  checkTensor(output, "plexus reduce_scatter_tensor");
  checkTensor(input, "plexus reduce_scatter_tensor");
  if (input.scalar_type() != output.scalar_type() || input.numel() != output.numel() * getSize())
    throwBackendError(describe("reduce_scatter_tensor", output) + ": the input must be a " +
                      c10::toString(output.scalar_type()) + " tensor of " +
                      std::to_string(output.numel() * getSize()) +
                      " elements (output x group size); got " + std::to_string(input.numel()) +
                      " x " + c10::toString(input.scalar_type()));
  at::Tensor in = contiguousOf(input);
  std::lock_guard<std::mutex> lock(collMutex_);
  auto work =
      reduceScatterFlat(output, in, !in.is_same(input), opts.reduceOp, opts.timeout,
                        "plexus:_reduce_scatter_base", c10d::OpType::_REDUCE_SCATTER_BASE, {});
  ++seq_;
  return launch(work);
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
  auto work = makeWork(
      c10d::OpType::ALLGATHER_INTO_TENSOR_COALESCED, "plexus:allgather_into_tensor_coalesced",
      "plexus allgather_into_tensor_coalesced of " + std::to_string(inputs.size()) + " tensors",
      outputs, opts.timeout, inputs);
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  std::lock_guard<std::mutex> lock(collMutex_);
  for (size_t i = 0; i < inputs.size(); ++i) {
    at::Tensor dst = contiguousOf(outputs[i]);
    if (!dst.is_same(outputs[i])) copies.emplace_back(outputs[i], dst);
    allGatherInto(work, contiguousOf(inputs[i]), dst);
  }
  if (!copies.empty())
    work->setFinisher([copies]() mutable {
      for (auto& [o, d] : copies) o.copy_(d);
    });
  ++seq_;
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::reduce_scatter_tensor_coalesced(
    std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::ReduceScatterOptions& opts) {
  if (outputs.size() != inputs.size() || outputs.empty())
    throwBackendError("plexus reduce_scatter_tensor_coalesced: " + std::to_string(outputs.size()) +
                      " outputs for " + std::to_string(inputs.size()) + " inputs");
  for (size_t i = 0; i < inputs.size(); ++i) {
    checkTensor(inputs[i], "plexus reduce_scatter_tensor_coalesced");
    checkTensor(outputs[i], "plexus reduce_scatter_tensor_coalesced");
    if (inputs[i].numel() != outputs[i].numel() * getSize() ||
        outputs[i].scalar_type() != inputs[i].scalar_type())
      throwBackendError("plexus reduce_scatter_tensor_coalesced: input " + std::to_string(i) +
                        " must have the output's dtype and group size x its elements");
  }
  auto work = makeWork(
      c10d::OpType::REDUCE_SCATTER_TENSOR_COALESCED, "plexus:reduce_scatter_tensor_coalesced",
      "plexus reduce_scatter_tensor_coalesced of " + std::to_string(inputs.size()) + " tensors",
      outputs, opts.timeout, inputs);
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  std::lock_guard<std::mutex> lock(collMutex_);
  for (size_t i = 0; i < inputs.size(); ++i) {
    at::Tensor in = contiguousOf(inputs[i]);
    at::Tensor dst = contiguousOf(outputs[i]);
    if (!dst.is_same(outputs[i])) copies.emplace_back(outputs[i], dst);
    reduceScatterFlat(dst, in, !in.is_same(inputs[i]), opts.reduceOp, opts.timeout,
                      "plexus:reduce_scatter_tensor_coalesced",
                      c10d::OpType::REDUCE_SCATTER_TENSOR_COALESCED, work);
  }
  if (!copies.empty())
    work->setFinisher([copies]() mutable {
      for (auto& [o, d] : copies) o.copy_(d);
    });
  ++seq_;
  return launch(work);
}

void ProcessGroupPlexus::startCoalescing() {
  coalescing_ = true;
  coalesced_.clear();
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::endCoalescing() {
  coalescing_ = false;
  auto works = std::move(coalesced_);
  coalesced_.clear();
  std::vector<at::Tensor> outputs;
  for (auto& w : works)
    for (auto& t : w->result()) outputs.push_back(t);
  auto work = c10::make_intrusive<WorkPlexus>(
      getRank(), c10d::OpType::COALESCED, "plexus:coalesced",
      "plexus coalesced group of " + std::to_string(works.size()) + " operations", outputs,
      timeout_);
  work->setFinisher([works]() {
    for (auto& w : works) w->wait(kNoTimeout);
  });
  completer_->add(work);
  return work;
}
#endif

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::barrier(const c10d::BarrierOptions& opts) {
  auto token = at::zeros({1}, at::kByte);
  auto work = makeWork(c10d::OpType::BARRIER, "plexus:barrier", "plexus barrier", {}, opts.timeout,
                       c10::nullopt);
  work->keepAlive(token);
  std::lock_guard<std::mutex> lock(collMutex_);
  work->addRequest(submit("plexus barrier", [&] {
    return coll_.allReduce(token.data_ptr(), token.data_ptr(), 1, plexus::DataType::kUint8,
                           plexus::RedOp::kMax, true);
  }));
  ++seq_;
  return launch(work);
}

// ---- gather, scatter, all-to-all from sends and receives on coll_ ----------------------------

void ProcessGroupPlexus::sendBytes(const c10::intrusive_ptr<WorkPlexus>& work, const void* data,
                                   size_t nbytes, int peer) {
  if (nbytes == 0) return;
  work->addRequest(submit(work->what(), [&] {
    return coll_.send(data, nbytes, plexus::DataType::kUint8, peer, true);
  }));
}

void ProcessGroupPlexus::recvBytes(const c10::intrusive_ptr<WorkPlexus>& work, void* data,
                                   size_t nbytes, int peer) {
  if (nbytes == 0) return;
  work->addRequest(submit(work->what(), [&] {
    return coll_.recv(data, nbytes, plexus::DataType::kUint8, peer, true);
  }));
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::gather(
    std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::GatherOptions& opts) {
  at::Tensor& in = single(inputs, "plexus gather");
  std::string what = describe("gather", in);
  int root = static_cast<int>(opts.rootRank);
  if (root < 0 || root >= getSize())
    throwBackendError(what + ": root " + std::to_string(root) + " is not a rank of this " +
                      std::to_string(getSize()) + "-rank group");
  bool isRoot = getRank() == root;
  if (isRoot) {
    if (outputs.size() != 1 || outputs[0].size() != static_cast<size_t>(getSize()))
      throwBackendError(what + ": the root needs one list of " + std::to_string(getSize()) +
                        " output tensors");
    for (auto& o : outputs[0]) checkSameShape(o, in, what, "an output tensor");
  } else if (!outputs.empty() && !outputs[0].empty()) {
    throwBackendError(what + ": only the root (rank " + std::to_string(root) +
                      ") takes output tensors");
  }
  auto work = makeWork(c10d::OpType::GATHER, "plexus:gather", what,
                       isRoot ? outputs[0] : std::vector<at::Tensor>{}, opts.timeout, inputs);
  at::Tensor src = contiguousOf(in);
  work->keepAlive(src);
  std::lock_guard<std::mutex> lock(collMutex_);
  if (!isRoot) {
    sendBytes(work, src.data_ptr(), byteSize(src), root);
  } else {
    std::vector<std::pair<at::Tensor, at::Tensor>> copies;
    for (int r = 0; r < getSize(); ++r) {
      at::Tensor& o = outputs[0][static_cast<size_t>(r)];
      if (r == root) {
        o.copy_(in.view(o.sizes()));
        continue;
      }
      at::Tensor dst =
          o.is_contiguous()
              ? o
              : at::empty(o.sizes(), o.options().memory_format(c10::MemoryFormat::Contiguous));
      if (!dst.is_same(o)) copies.emplace_back(o, dst);
      work->keepAlive(dst);
      recvBytes(work, dst.data_ptr(), byteSize(dst), r);
    }
    if (!copies.empty())
      work->setFinisher([copies]() mutable {
        for (auto& [o, d] : copies) o.copy_(d);
      });
  }
  ++seq_;
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::scatter(
    std::vector<at::Tensor>& outputs, std::vector<std::vector<at::Tensor>>& inputs,
    const c10d::ScatterOptions& opts) {
  at::Tensor& out = single(outputs, "plexus scatter");
  std::string what = describe("scatter", out);
  int root = static_cast<int>(opts.rootRank);
  if (root < 0 || root >= getSize())
    throwBackendError(what + ": root " + std::to_string(root) + " is not a rank of this " +
                      std::to_string(getSize()) + "-rank group");
  bool isRoot = getRank() == root;
  if (isRoot) {
    if (inputs.size() != 1 || inputs[0].size() != static_cast<size_t>(getSize()))
      throwBackendError(what + ": the root needs one list of " + std::to_string(getSize()) +
                        " input tensors");
    for (auto& t : inputs[0]) checkSameShape(t, out, what, "an input tensor");
  } else if (!inputs.empty() && !inputs[0].empty()) {
    throwBackendError(what + ": only the root (rank " + std::to_string(root) +
                      ") takes input tensors");
  }
  auto work = makeWork(c10d::OpType::SCATTER, "plexus:scatter", what, {out}, opts.timeout,
                       isRoot ? c10::optional<std::vector<at::Tensor>>(inputs[0]) : c10::nullopt);
  std::lock_guard<std::mutex> lock(collMutex_);
  if (isRoot) {
    for (int r = 0; r < getSize(); ++r) {
      at::Tensor& t = inputs[0][static_cast<size_t>(r)];
      if (r == root) {
        out.copy_(t.view(out.sizes()));
        continue;
      }
      at::Tensor src = contiguousOf(t);
      work->keepAlive(src);
      sendBytes(work, src.data_ptr(), byteSize(src), r);
    }
  } else {
    at::Tensor dst = contiguousOf(out);
    work->keepAlive(dst);
    if (!dst.is_same(out)) work->setFinisher([out, dst]() mutable { out.copy_(dst); });
    recvBytes(work, dst.data_ptr(), byteSize(dst), root);
  }
  ++seq_;
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::alltoall_base(
    at::Tensor& output, at::Tensor& input, std::vector<int64_t>& outputSplits,
    std::vector<int64_t>& inputSplits, const c10d::AllToAllOptions& opts) {
  checkTensor(input, "plexus all_to_all_single");
  checkTensor(output, "plexus all_to_all_single");
  std::string what = describe("all_to_all_single", input);
  if (input.scalar_type() != output.scalar_type())
    throwBackendError(what + ": the output has dtype " + c10::toString(output.scalar_type()));
  const int n = getSize();
  // Row sizes (elements per index of dim 0) and per-peer row counts.
  auto rowsFor = [&](const at::Tensor& t, const std::vector<int64_t>& splits, const char* role) {
    std::vector<int64_t> rows(static_cast<size_t>(n));
    int64_t dim0 = t.dim() == 0 ? 1 : t.size(0);
    if (splits.empty()) {
      if (dim0 % n != 0)
        throwBackendError(what + ": the " + std::string(role) + "'s first dimension (" +
                          std::to_string(dim0) + ") does not split evenly over " +
                          std::to_string(n) + " ranks; pass split sizes");
      for (auto& r : rows) r = dim0 / n;
    } else {
      if (splits.size() != static_cast<size_t>(n))
        throwBackendError(what + ": " + std::to_string(splits.size()) + " " + role +
                          " split sizes for " + std::to_string(n) + " ranks");
      int64_t sum = 0;
      for (size_t i = 0; i < splits.size(); ++i) {
        if (splits[i] < 0) throwBackendError(what + ": negative " + role + " split size");
        rows[i] = splits[i];
        sum += splits[i];
      }
      if (sum != dim0)
        throwBackendError(what + ": the " + std::string(role) + " split sizes add up to " +
                          std::to_string(sum) + ", but its first dimension is " +
                          std::to_string(dim0));
    }
    return rows;
  };
  auto inRows = rowsFor(input, inputSplits, "input");
  auto outRows = rowsFor(output, outputSplits, "output");
  int64_t inDim0 = input.dim() == 0 ? 1 : input.size(0);
  int64_t outDim0 = output.dim() == 0 ? 1 : output.size(0);
  size_t inRowBytes = inDim0 == 0 ? 0 : byteSize(input) / static_cast<size_t>(inDim0);
  size_t outRowBytes = outDim0 == 0 ? 0 : byteSize(output) / static_cast<size_t>(outDim0);
  auto work = makeWork(c10d::OpType::ALLTOALL_BASE, "plexus:all_to_all", what, {output},
                       opts.timeout, std::vector<at::Tensor>{input});
  at::Tensor src = contiguousOf(input);
  at::Tensor dst = contiguousOf(output);
  work->keepAlive(src);
  work->keepAlive(dst);
  if (!dst.is_same(output)) work->setFinisher([output, dst]() mutable { output.copy_(dst); });
  auto* s = static_cast<const char*>(src.data_ptr());
  auto* d = static_cast<char*>(dst.data_ptr());
  std::vector<size_t> inOff(static_cast<size_t>(n) + 1, 0), outOff(static_cast<size_t>(n) + 1, 0);
  for (int r = 0; r < n; ++r) {
    inOff[r + 1] = inOff[r] + static_cast<size_t>(inRows[r]) * inRowBytes;
    outOff[r + 1] = outOff[r] + static_cast<size_t>(outRows[r]) * outRowBytes;
  }
  const int me = getRank();
  size_t selfIn = inOff[me + 1] - inOff[me], selfOut = outOff[me + 1] - outOff[me];
  if (selfIn != selfOut)
    throwBackendError(what + ": this rank sends itself " + std::to_string(selfIn) +
                      " bytes but expects " + std::to_string(selfOut));
  if (selfIn > 0) std::memcpy(d + outOff[me], s + inOff[me], selfIn);
  std::lock_guard<std::mutex> lock(collMutex_);
  for (int i = 1; i < n; ++i) {
    int to = (me + i) % n, from = (me - i + n) % n;
    sendBytes(work, s + inOff[to], inOff[to + 1] - inOff[to], to);
    recvBytes(work, d + outOff[from], outOff[from + 1] - outOff[from], from);
  }
  ++seq_;
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::alltoall(std::vector<at::Tensor>& outputs,
                                                            std::vector<at::Tensor>& inputs,
                                                            const c10d::AllToAllOptions& opts) {
  const int n = getSize();
  if (outputs.size() != static_cast<size_t>(n) || inputs.size() != static_cast<size_t>(n))
    throwBackendError("plexus all_to_all: needs " + std::to_string(n) +
                      " input and output tensors; got " + std::to_string(inputs.size()) + " and " +
                      std::to_string(outputs.size()));
  for (int r = 0; r < n; ++r) {
    checkTensor(inputs[r], "plexus all_to_all");
    checkTensor(outputs[r], "plexus all_to_all");
    if (inputs[r].scalar_type() != outputs[r].scalar_type())
      throwBackendError("plexus all_to_all: input and output dtypes differ");
  }
  auto work = makeWork(c10d::OpType::ALLTOALL, "plexus:all_to_all",
                       "plexus all_to_all of " + std::to_string(n) + " tensors", outputs,
                       opts.timeout, inputs);
  const int me = getRank();
  if (byteSize(inputs[me]) != byteSize(outputs[me]))
    throwBackendError("plexus all_to_all: this rank's input " + std::to_string(me) + " has " +
                      std::to_string(inputs[me].numel()) + " elements, its output " +
                      std::to_string(me) + " " + std::to_string(outputs[me].numel()));
  outputs[me].copy_(inputs[me].view(outputs[me].sizes()));
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  std::lock_guard<std::mutex> lock(collMutex_);
  for (int i = 1; i < n; ++i) {
    int to = (me + i) % n, from = (me - i + n) % n;
    at::Tensor src = contiguousOf(inputs[to]);
    at::Tensor dst = contiguousOf(outputs[from]);
    if (!dst.is_same(outputs[from])) copies.emplace_back(outputs[from], dst);
    work->keepAlive(src);
    work->keepAlive(dst);
    sendBytes(work, src.data_ptr(), byteSize(src), to);
    recvBytes(work, dst.data_ptr(), byteSize(dst), from);
  }
  if (!copies.empty())
    work->setFinisher([copies]() mutable {
      for (auto& [o, d] : copies) o.copy_(d);
    });
  ++seq_;
  return launch(work);
}

// ---- user sends and receives on the p2p communicator ----------------------------------------

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::send(std::vector<at::Tensor>& tensors,
                                                        int dstRank, int tag) {
  at::Tensor& t = single(tensors, "plexus send");
  std::string what = describe("send", t) + " to rank " + std::to_string(dstRank);
  if (dstRank < 0 || dstRank >= getSize())
    throwBackendError(what + ": not a rank of this " + std::to_string(getSize()) + "-rank group");
  auto work =
      makeWork(c10d::OpType::SEND, "plexus:send", what, {}, std::chrono::milliseconds(0), tensors);
  at::Tensor src = contiguousOf(t);
  work->keepAlive(src);
  try {
    p2p_->send(work, src.data_ptr(), byteSize(src), dstRank, tag);
  } catch (const plexus::Error& e) {
    throwBackendError(what + ": " + e.what());
  }
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::recv(std::vector<at::Tensor>& tensors,
                                                        int srcRank, int tag) {
  at::Tensor& t = single(tensors, "plexus recv");
  std::string what = describe("recv", t) + " from rank " + std::to_string(srcRank);
  if (srcRank < 0 || srcRank >= getSize())
    throwBackendError(what + ": not a rank of this " + std::to_string(getSize()) + "-rank group");
  auto work =
      makeWork(c10d::OpType::RECV, "plexus:recv", what, {t}, std::chrono::milliseconds(0), tensors);
  at::Tensor dst = contiguousOf(t);
  work->keepAlive(dst);
  std::function<void()> finish;
  if (!dst.is_same(t)) finish = [t, dst]() mutable { t.copy_(dst); };
  try {
    p2p_->recv(work, dst, srcRank, tag, std::move(finish));
  } catch (const plexus::Error& e) {
    throwBackendError(what + ": " + e.what());
  }
  return launch(work);
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::recvAnysource(std::vector<at::Tensor>& tensors,
                                                                 int tag) {
  at::Tensor& t = single(tensors, "plexus recv");
  std::string what = describe("recv", t) + " from any rank";
  auto work = makeWork(c10d::OpType::RECVANYSOURCE, "plexus:recvAnySource", what, {t},
                       std::chrono::milliseconds(0), tensors);
  at::Tensor dst = contiguousOf(t);
  work->keepAlive(dst);
  std::function<void()> finish;
  if (!dst.is_same(t)) finish = [t, dst]() mutable { t.copy_(dst); };
  try {
    p2p_->recv(work, dst, -1, tag, std::move(finish));
  } catch (const plexus::Error& e) {
    throwBackendError(what + ": " + e.what());
  }
  return launch(work);
}

}  // namespace plexus_torch
