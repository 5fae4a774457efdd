// ProcessGroupPlexus: the "plexus" torch.distributed backend for CPU tensors. Collectives
// (gather, scatter and all-to-all included) run on one Plexus communicator as Plexus's own
// collectives; user sends and receives (tags, any-source) on a second one through the P2PMatcher.
// Only the all-to-alls whose blocks may differ in size between peers (all_to_all_single with
// split sizes, all_to_all of a tensor list) are built from Plexus sends and receives: Plexus's
// all-to-all moves one block size. Every operation is submitted asynchronously through start()
// and returns a WorkPlexus.
//
// Sources: backend.cpp (set-up, start, barrier, coalescing, user p2p), collectives.cpp
// (all-reduce, broadcast, reduce, all-gathers, reduce-scatters), exchange.cpp (gather, scatter,
// all-to-alls).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compat.hpp"
#include "cuda_path.hpp"
#include "p2p.hpp"
#include "tensor_args.hpp"
#include "work.hpp"

namespace plexus_torch {

// The unique id of the group's communicator number `which`: rank 0 makes it and publishes it in
// `store`, the others read it (backend.cpp).
plexus::UniqueId exchangeId(const c10d::Store& store, int rank, int which);

class ProcessGroupPlexus : public BackendBase {
 public:
  // Meets the other `size` ranks through `store` (rank 0 publishes the unique ids).
  ProcessGroupPlexus(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                     std::chrono::milliseconds timeout);
  ~ProcessGroupPlexus() override;

  const std::string getBackendName() const override { return "plexus"; }

  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& tensors,
                                           const c10d::BroadcastOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& tensors,
                                           const c10d::AllreduceOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allreduce_coalesced(
      std::vector<at::Tensor>& tensors, const c10d::AllreduceCoalescedOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> reduce(std::vector<at::Tensor>& tensors,
                                        const c10d::ReduceOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& outputs,
                                           std::vector<at::Tensor>& inputs,
                                           const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> _allgather_base(at::Tensor& output, at::Tensor& input,
                                                 const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allgather_coalesced(
      std::vector<std::vector<at::Tensor>>& outputLists, std::vector<at::Tensor>& inputs,
      const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> gather(std::vector<std::vector<at::Tensor>>& outputs,
                                        std::vector<at::Tensor>& inputs,
                                        const c10d::GatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> scatter(std::vector<at::Tensor>& outputs,
                                         std::vector<std::vector<at::Tensor>>& inputs,
                                         const c10d::ScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> reduce_scatter(std::vector<at::Tensor>& outputs,
                                                std::vector<std::vector<at::Tensor>>& inputs,
                                                const c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> _reduce_scatter_base(
      at::Tensor& output, at::Tensor& input, const c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> alltoall_base(at::Tensor& output, at::Tensor& input,
                                               std::vector<int64_t>& outputSplits,
                                               std::vector<int64_t>& inputSplits,
                                               const c10d::AllToAllOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> alltoall(std::vector<at::Tensor>& outputs,
                                          std::vector<at::Tensor>& inputs,
                                          const c10d::AllToAllOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> send(std::vector<at::Tensor>& tensors, int dstRank,
                                      int tag) override;
  c10::intrusive_ptr<c10d::Work> recv(std::vector<at::Tensor>& tensors, int srcRank,
                                      int tag) override;
  c10::intrusive_ptr<c10d::Work> recvAnysource(std::vector<at::Tensor>& tensors, int tag) override;
  c10::intrusive_ptr<c10d::Work> barrier(const c10d::BarrierOptions& opts) override;
  void setSequenceNumberForGroup() override;
  uint64_t getSequenceNumberForGroup() override;

#if PLEXUS_TORCH_AT_LEAST(2, 1)
  c10::intrusive_ptr<c10d::Work> allgather_into_tensor_coalesced(
      std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
      const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> reduce_scatter_tensor_coalesced(
      std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
      const c10d::ReduceScatterOptions& opts) override;
  void startCoalescing() override;
  c10::intrusive_ptr<c10d::Work> endCoalescing() override;
#endif
#if PLEXUS_TORCH_V2
  void abort() override {
    abortAll();
  }
  void shutdown() override {}
#endif

  // Fails every pending operation here and on the peers waiting for this rank.
  void abortAll();
  // Operations still in flight (for tests and diagnostics).
  size_t pendingWorks() const {
    return completer_ ? completer_->pending() : 0;
  }

 private:
  using WorkPtr = c10::intrusive_ptr<WorkPlexus>;
  // What an operation is, for its Work: type, profiling title, description (its errors start
  // with it), output tensors (the future's value), timeout (zero: the group's) and inputs.
  struct OpInfo {
    c10d::OpType type;
    const char* title;
    std::string what;
    std::vector<at::Tensor> outputs;
    std::chrono::milliseconds timeout{0};
    c10::optional<std::vector<at::Tensor>> inputs;
  };
  // Where an operation's requests go: coll_ (under collMutex_, counted by the sequence number),
  // the p2p matcher, or nowhere (a Work over other Works).
  enum class Channel { kCollective, kP2P, kLocal };

  // The one path of every operation (arguments are checked before): makes its Work, lets `issue`
  // stage buffers and submit the Plexus requests into it (on coll_, under the lock, in the same
  // order on every rank), turns Plexus's immediate errors into errors naming the operation,
  // advances the sequence number and hands the Work to the completer (and to an open coalescing
  // group).
  template <class Issue>
  c10::intrusive_ptr<c10d::Work> start(Channel channel, OpInfo info, Issue&& issue);
  std::chrono::milliseconds effective(std::chrono::milliseconds opTimeout) const;
  // Throws unless `root` is a rank of the group; returns it.
  int checkRoot(const std::string& what, int64_t root) const;

  // Submits into `work`: the all-gather of `input` into `flat` (both contiguous), and the
  // reduce-scatter of `in` into `dst` (contiguous; `in` is cloned for PREMUL_SUM unless it is
  // already the operation's own copy).
  void allGatherInto(const WorkPtr& work, const at::Tensor& input, const at::Tensor& flat);
  void reduceScatterInto(const WorkPtr& work, const at::Tensor& dst, at::Tensor in,
                         bool inputIsCopy, const ReduceSpec& spec);
  // Receives into `t` from `peer` (-1: any) through the matcher.
  void receive(const WorkPtr& work, const at::Tensor& t, int peer, int64_t tag);
  // Per-peer blocks of an all-to-all whose block sizes may differ between peers.
  struct Block {
    char* data;
    size_t bytes;
  };
  // That all-to-all from sends and receives on coll_ (Plexus's all-to-all moves one block size):
  // the own block is copied, zero-byte transfers are skipped on both sides.
  void exchangeBlocks(const WorkPtr& work, const std::vector<Block>& sends,
                      const std::vector<Block>& recvs);

#ifdef PLEXUS_TORCH_CUDA
  // CUDA tensors (cuda_collectives.cpp): the same operations through Plexus's NCCL C API on the
  // tensors' current stream, on cuda_ (made on first use, under collMutex_).
  c10::intrusive_ptr<c10d::Work> cudaAllreduce(at::Tensor& t, const c10d::AllreduceOptions& opts);
  c10::intrusive_ptr<c10d::Work> cudaBroadcast(at::Tensor& t, const c10d::BroadcastOptions& opts);
  c10::intrusive_ptr<c10d::Work> cudaReduce(at::Tensor& t, const c10d::ReduceOptions& opts);
  c10::intrusive_ptr<c10d::Work> cudaAllgather(std::vector<at::Tensor>& outputs, at::Tensor& input,
                                               const c10d::AllgatherOptions& opts);
  c10::intrusive_ptr<c10d::Work> cudaAllgatherBase(at::Tensor& output, at::Tensor& input,
                                                   const c10d::AllgatherOptions& opts);
  c10::intrusive_ptr<c10d::Work> cudaReduceScatterBase(at::Tensor& output, at::Tensor& input,
                                                       const c10d::ReduceScatterOptions& opts);
  // The one path of those: under collMutex_, on the device's current stream, `enqueue(comm,
  // stream)` makes the NCCL calls; the Work then records its event on that stream.
  template <class Enqueue>
  c10::intrusive_ptr<c10d::Work> startCuda(OpInfo info, c10::Device device, Enqueue&& enqueue);
  std::shared_ptr<CudaComm> cuda_;
#endif
  c10::intrusive_ptr<c10d::Store> store_;  // for communicators made later (CUDA)
  std::chrono::milliseconds timeout_;
  std::mutex collMutex_;  // one submitter at a time on coll_ (same order on every rank)
  plexus::Communicator coll_;
  std::unique_ptr<P2PMatcher> p2p_;
  std::unique_ptr<Completer> completer_;
  uint64_t seq_ = 0;
  bool coalescing_ = false;
  std::vector<c10::intrusive_ptr<WorkPlexus>> coalesced_;
};

template <class Issue>
c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::start(Channel channel, OpInfo info,
                                                         Issue&& issue) {
  auto work = c10::make_intrusive<WorkPlexus>(getRank(), info.type, info.title,
                                              std::move(info.what), std::move(info.outputs),
                                              effective(info.timeout), info.inputs);
  {
    std::unique_lock<std::mutex> lock(collMutex_, std::defer_lock);
    if (channel == Channel::kCollective) lock.lock();
    try {
      issue(work);
    } catch (const plexus::Error& e) {
      throwBackendError(work->what() + ": " + e.what());
    }
    if (channel == Channel::kCollective) ++seq_;
  }
  completer_->add(work);
  if (coalescing_) coalesced_.push_back(work);
  return work;
}

}  // namespace plexus_torch
