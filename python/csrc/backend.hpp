// ProcessGroupPlexus: the "plexus" torch.distributed backend for CPU tensors. Collectives run on
// one Plexus communicator; user sends and receives (tags, any-source) on a second one through the
// P2PMatcher. Gather, scatter and all-to-all are built here from Plexus sends and receives until
// Plexus has them natively. Every operation is submitted asynchronously and returns a WorkPlexus.
#pragma once

#include <memory>
#include <mutex>

#include "compat.hpp"
#include "p2p.hpp"
#include "work.hpp"

namespace plexus_torch {

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
  c10::intrusive_ptr<WorkPlexus> makeWork(c10d::OpType type, const char* title, std::string what,
                                          std::vector<at::Tensor> outputs,
                                          std::chrono::milliseconds opTimeout,
                                          const c10::optional<std::vector<at::Tensor>>& inputs);
  c10::intrusive_ptr<c10d::Work> launch(const c10::intrusive_ptr<WorkPlexus>& work);
  std::chrono::milliseconds effective(std::chrono::milliseconds opTimeout) const;
  // Shared by allgather forms: all-gathers `input` (contiguous) into `flat` (contiguous).
  void allGatherInto(const c10::intrusive_ptr<WorkPlexus>& work, const at::Tensor& input,
                     const at::Tensor& flat);
  c10::intrusive_ptr<WorkPlexus> reduceScatterFlat(at::Tensor& output, const at::Tensor& flatIn,
                                                   bool inputIsCopy, const c10d::ReduceOp& op,
                                                   std::chrono::milliseconds opTimeout,
                                                   const char* title, c10d::OpType type,
                                                   const c10::intrusive_ptr<WorkPlexus>& into);
  // Sends and receives of one exchange on the collective communicator (gather, scatter,
  // all-to-all); zero-byte transfers are skipped on both sides.
  void sendBytes(const c10::intrusive_ptr<WorkPlexus>& work, const void* data, size_t nbytes,
                 int peer);
  void recvBytes(const c10::intrusive_ptr<WorkPlexus>& work, void* data, size_t nbytes, int peer);

  std::chrono::milliseconds timeout_;
  std::mutex collMutex_;  // one submitter at a time on coll_ (same order on every rank)
  plexus::Communicator coll_;
  std::unique_ptr<P2PMatcher> p2p_;
  std::unique_ptr<Completer> completer_;
  uint64_t seq_ = 0;
  bool coalescing_ = false;
  std::vector<c10::intrusive_ptr<WorkPlexus>> coalesced_;
};

}  // namespace plexus_torch
