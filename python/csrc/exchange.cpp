// ProcessGroupPlexus (backend.hpp): gather, scatter and the all-to-alls. Gather, scatter and the
// all-to-all of equal blocks are Plexus's own collectives; an all-to-all whose blocks may differ
// in size between peers is built from sends and receives on coll_ (exchangeBlocks).
#include <cstring>

#include "backend.hpp"

namespace plexus_torch {
namespace {

int64_t rowsOf(const at::Tensor& t) {
  return t.dim() == 0 ? 1 : t.size(0);
}

// Byte offsets of the n per-peer blocks of `t` along its first dimension (n + 1 entries): equal
// blocks without split sizes, else the given rows per peer; throws naming `what` and `role`.
std::vector<size_t> blockOffsets(const at::Tensor& t, const std::vector<int64_t>& splits, int n,
                                 const std::string& what, const std::string& role) {
  const int64_t dim0 = rowsOf(t);
  std::vector<int64_t> rows(static_cast<size_t>(n), n == 0 ? 0 : dim0 / n);
  if (splits.empty()) {
    if (dim0 % n != 0)
      throwBackendError(what + ": the " + role + "'s first dimension (" + std::to_string(dim0) +
                        ") does not split evenly over " + std::to_string(n) +
                        " ranks; pass split sizes");
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
      throwBackendError(what + ": the " + role + " split sizes add up to " + std::to_string(sum) +
                        ", but its first dimension is " + std::to_string(dim0));
  }
  const size_t rowBytes = dim0 == 0 ? 0 : byteSize(t) / static_cast<size_t>(dim0);
  std::vector<size_t> off(static_cast<size_t>(n) + 1, 0);
  for (size_t r = 0; r < rows.size(); ++r)
    off[r + 1] = off[r] + static_cast<size_t>(rows[r]) * rowBytes;
  return off;
}

// Throws unless this rank's own block is as large in the input as in the output.
void checkSelfBlock(const std::string& what, int me, size_t in, size_t out) {
  if (in != out)
    throwBackendError(what + ": this rank (" + std::to_string(me) + ") sends itself " +
                      std::to_string(in) + " bytes but expects " + std::to_string(out));
}

}  // namespace

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::gather(
    std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::GatherOptions& opts) {
  at::Tensor& in = single(inputs, "plexus gather");
  std::string what = describe("gather", in);
  const int root = checkRoot(what, opts.rootRank);
  const bool isRoot = getRank() == root;
  if (isRoot) {
    if (outputs.size() != 1 || outputs[0].size() != static_cast<size_t>(getSize()))
      throwBackendError(what + ": the root needs one list of " + std::to_string(getSize()) +
                        " output tensors");
    for (auto& o : outputs[0]) checkSameShape(o, in, what, "an output tensor");
  } else if (!outputs.empty() && !outputs[0].empty()) {
    throwBackendError(what + ": only the root (rank " + std::to_string(root) +
                      ") takes output tensors");
  }
  return start(
      Channel::kCollective,
      {c10d::OpType::GATHER, "plexus:gather", what, isRoot ? outputs[0] : std::vector<at::Tensor>{},
       opts.timeout, inputs},
      [&](const WorkPtr& work) {
        at::Tensor src = work->stageInput(in);
        at::Tensor flat;  // the root's blocks in rank order
        if (isRoot) {
          flat = work->buffer({getSize(), in.numel()}, in);
          for (int64_t r = 0; r < getSize(); ++r)
            work->copyBack(outputs[0][static_cast<size_t>(r)], flat[r]);
        }
        work->addRequest(coll_.gather(src.data_ptr(), isRoot ? flat.data_ptr() : nullptr,
                                      byteSize(src), plexus::DataType::kUint8, root, true));
      });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::scatter(
    std::vector<at::Tensor>& outputs, std::vector<std::vector<at::Tensor>>& inputs,
    const c10d::ScatterOptions& opts) {
  at::Tensor& out = single(outputs, "plexus scatter");
  std::string what = describe("scatter", out);
  const int root = checkRoot(what, opts.rootRank);
  const bool isRoot = getRank() == root;
  if (isRoot) {
    if (inputs.size() != 1 || inputs[0].size() != static_cast<size_t>(getSize()))
      throwBackendError(what + ": the root needs one list of " + std::to_string(getSize()) +
                        " input tensors");
    for (auto& t : inputs[0]) checkSameShape(t, out, what, "an input tensor");
  } else if (!inputs.empty() && !inputs[0].empty()) {
    throwBackendError(what + ": only the root (rank " + std::to_string(root) +
                      ") takes input tensors");
  }
  return start(
      Channel::kCollective,
      {c10d::OpType::SCATTER,
       "plexus:scatter",
       what,
       {out},
       opts.timeout,
       isRoot ? c10::optional<std::vector<at::Tensor>>(inputs[0]) : c10::nullopt},
      [&](const WorkPtr& work) {
        at::Tensor flat;  // the root's blocks in rank order
        if (isRoot) {
          std::vector<at::Tensor> parts;
          for (auto& t : inputs[0]) parts.push_back(t.reshape({-1}));
          flat = work->stageInput(at::cat(parts));
        }
        at::Tensor dst = work->stageOutput(out);
        work->addRequest(coll_.scatter(isRoot ? flat.data_ptr() : nullptr, dst.data_ptr(),
                                       byteSize(dst), plexus::DataType::kUint8, root, true));
      });
}

void ProcessGroupPlexus::exchangeBlocks(const WorkPtr& work, const std::vector<Block>& sends,
                                        const std::vector<Block>& recvs) {
  const int n = getSize(), me = getRank();
  if (sends[me].bytes > 0) std::memcpy(recvs[me].data, sends[me].data, sends[me].bytes);
  for (int i = 1; i < n; ++i) {
    const int to = (me + i) % n, from = (me - i + n) % n;
    if (sends[to].bytes > 0)
      work->addRequest(
          coll_.send(sends[to].data, sends[to].bytes, plexus::DataType::kUint8, to, true));
    if (recvs[from].bytes > 0)
      work->addRequest(
          coll_.recv(recvs[from].data, recvs[from].bytes, plexus::DataType::kUint8, from, true));
  }
}

// Without split sizes every block has the same size on every rank (as Gloo's and MPI's backends
// decide by the same test): Plexus's all-to-all. With split sizes the blocks may differ between
// peers, which one block size cannot express: sends and receives. (A rank cannot tell from its
// own splits, even when they are all equal, that its peers' are too, and every rank must choose
// the same way.)
c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::alltoall_base(
    at::Tensor& output, at::Tensor& input, std::vector<int64_t>& outputSplits,
    std::vector<int64_t>& inputSplits, const c10d::AllToAllOptions& opts) {
  checkTensor(input, "plexus all_to_all_single");
  checkTensor(output, "plexus all_to_all_single");
  std::string what = describe("all_to_all_single", input);
  if (input.scalar_type() != output.scalar_type())
    throwBackendError(what + ": the output has dtype " + c10::toString(output.scalar_type()));
  const int n = getSize(), me = getRank();
  const auto inOff = blockOffsets(input, inputSplits, n, what, "input");
  const auto outOff = blockOffsets(output, outputSplits, n, what, "output");
  checkSelfBlock(what, me, inOff[me + 1] - inOff[me], outOff[me + 1] - outOff[me]);
  const bool equal = inputSplits.empty() && outputSplits.empty();
  return start(
      Channel::kCollective,
      {c10d::OpType::ALLTOALL_BASE,
       "plexus:all_to_all",
       what,
       {output},
       opts.timeout,
       std::vector<at::Tensor>{input}},
      [&](const WorkPtr& work) {
        at::Tensor src = work->stageInput(input);
        at::Tensor dst = work->stageOutput(output);
        if (equal) {
          work->addRequest(coll_.allToAll(src.data_ptr(), dst.data_ptr(), inOff[1],
                                          plexus::DataType::kUint8, true));
          return;
        }
        std::vector<Block> sends, recvs;
        for (size_t r = 0; r < static_cast<size_t>(n); ++r) {
          sends.push_back({static_cast<char*>(src.data_ptr()) + inOff[r], inOff[r + 1] - inOff[r]});
          recvs.push_back(
              {static_cast<char*>(dst.data_ptr()) + outOff[r], outOff[r + 1] - outOff[r]});
        }
        exchangeBlocks(work, sends, recvs);
      });
}

// A list of tensors may hold a different size for every peer (PyTorch's documented use), and
// only the peer knows what it sends: sends and receives, like all_to_all_single with split sizes.
c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::alltoall(std::vector<at::Tensor>& outputs,
                                                            std::vector<at::Tensor>& inputs,
                                                            const c10d::AllToAllOptions& opts) {
  const int n = getSize(), me = getRank();
  const std::string what = "plexus all_to_all of " + std::to_string(n) + " tensors";
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
  checkSelfBlock(what, me, byteSize(inputs[me]), byteSize(outputs[me]));
  return start(Channel::kCollective,
               {c10d::OpType::ALLTOALL, "plexus:all_to_all", what, outputs, opts.timeout, inputs},
               [&](const WorkPtr& work) {
                 std::vector<Block> sends, recvs;
                 for (int r = 0; r < n; ++r) {
                   at::Tensor src = work->stageInput(inputs[r]);
                   at::Tensor dst = work->stageOutput(outputs[r]);
                   sends.push_back({static_cast<char*>(src.data_ptr()), byteSize(src)});
                   recvs.push_back({static_cast<char*>(dst.data_ptr()), byteSize(dst)});
                 }
                 exchangeBlocks(work, sends, recvs);
               });
}

}  // namespace plexus_torch
