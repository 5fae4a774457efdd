// ProcessGroupPlexus (backend.hpp): rendezvous through the c10d store, the set-up every operation
// goes through, barrier, coalescing groups and the user's sends and receives.
#include "backend.hpp"

#include <pybind11/pybind11.h>

#include <cstring>
#include <optional>

namespace plexus_torch {

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

ProcessGroupPlexus::ProcessGroupPlexus(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                       int size, std::chrono::milliseconds timeout)
    : BackendBase(rank, size), store_(store), timeout_(timeout) {
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
#ifdef PLEXUS_TORCH_CUDA
  if (cuda_) cuda_->abort();
#endif
  if (p2p_) p2p_->abort();
}

std::chrono::milliseconds ProcessGroupPlexus::effective(std::chrono::milliseconds opTimeout) const {
  return opTimeout.count() > 0 ? opTimeout : timeout_;
}

int ProcessGroupPlexus::checkRoot(const std::string& what, int64_t root) const {
  if (root < 0 || root >= getSize())
    throwBackendError(what + ": root " + std::to_string(root) + " is not a rank of this " +
                      std::to_string(getSize()) + "-rank group");
  return static_cast<int>(root);
}

void ProcessGroupPlexus::setSequenceNumberForGroup() {
  std::lock_guard<std::mutex> lock(collMutex_);
  seq_ = 0;
}

uint64_t ProcessGroupPlexus::getSequenceNumberForGroup() {
  std::lock_guard<std::mutex> lock(collMutex_);
  return seq_;
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::barrier(const c10d::BarrierOptions& opts) {
  return start(
      Channel::kCollective,
      {c10d::OpType::BARRIER, "plexus:barrier", "plexus barrier", {}, opts.timeout, c10::nullopt},
      [&](const WorkPtr& work) { work->addRequest(coll_.barrierAsync()); });
}

#if PLEXUS_TORCH_AT_LEAST(2, 1)
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
  return start(Channel::kLocal,
               {c10d::OpType::COALESCED, "plexus:coalesced",
                "plexus coalesced group of " + std::to_string(works.size()) + " operations",
                outputs, std::chrono::milliseconds(0), c10::nullopt},
               [&](const WorkPtr& work) {
                 work->setFinisher([works]() {
                   for (auto& w : works) w->wait(kNoTimeout);
                 });
               });
}
#endif

// ---- user sends and receives on the p2p communicator ----------------------------------------

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::send(std::vector<at::Tensor>& tensors,
                                                        int dstRank, int tag) {
  at::Tensor& t = single(tensors, "plexus send");
  std::string what = describe("send", t) + " to rank " + std::to_string(dstRank);
  if (dstRank < 0 || dstRank >= getSize())
    throwBackendError(what + ": not a rank of this " + std::to_string(getSize()) + "-rank group");
  return start(Channel::kP2P,
               {c10d::OpType::SEND, "plexus:send", what, {}, std::chrono::milliseconds(0), tensors},
               [&](const WorkPtr& work) {
                 at::Tensor src = work->stageInput(t);
                 p2p_->send(work, src.data_ptr(), byteSize(src), dstRank, tag);
               });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::recv(std::vector<at::Tensor>& tensors,
                                                        int srcRank, int tag) {
  at::Tensor& t = single(tensors, "plexus recv");
  std::string what = describe("recv", t) + " from rank " + std::to_string(srcRank);
  if (srcRank < 0 || srcRank >= getSize())
    throwBackendError(what + ": not a rank of this " + std::to_string(getSize()) + "-rank group");
  return start(
      Channel::kP2P,
      {c10d::OpType::RECV, "plexus:recv", what, {t}, std::chrono::milliseconds(0), tensors},
      [&](const WorkPtr& work) { receive(work, t, srcRank, tag); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupPlexus::recvAnysource(std::vector<at::Tensor>& tensors,
                                                                 int tag) {
  at::Tensor& t = single(tensors, "plexus recv");
  return start(Channel::kP2P,
               {c10d::OpType::RECVANYSOURCE,
                "plexus:recvAnySource",
                describe("recv", t) + " from any rank",
                {t},
                std::chrono::milliseconds(0),
                tensors},
               [&](const WorkPtr& work) { receive(work, t, -1, tag); });
}

void ProcessGroupPlexus::receive(const WorkPtr& work, const at::Tensor& t, int peer, int64_t tag) {
  // Not stageOutput: the copy back must run after the matcher's own finishing step (a message
  // that arrived before the receive is copied out of its buffer first), so it goes with it.
  at::Tensor dst = t.is_contiguous() ? t : t.contiguous();
  work->keepAlive(dst);
  std::function<void()> finish;
  if (!dst.is_same(t)) finish = [t, dst]() mutable { t.copy_(dst); };
  p2p_->recv(work, dst, peer, tag, std::move(finish));
}

}  // namespace plexus_torch
