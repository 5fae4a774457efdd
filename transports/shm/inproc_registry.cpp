// The process-wide registry of same-process shm peers (inproc_registry.hpp).
#include "transports/shm/inproc_registry.hpp"

#include <cstring>
#include <map>
#include <mutex>
#include <new>

namespace plexus::transport::shm {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<InprocKey, std::shared_ptr<InprocFifo>> fifos;
  std::map<std::pair<uint64_t, int>, std::vector<std::pair<int, int>>> inboxes;
  std::map<std::pair<uint64_t, int>, std::shared_ptr<RankControl>> controls;
};
Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

InprocFifo::InprocFifo(size_t bytes) : data_(::operator new (bytes, std::align_val_t{64})) {
  std::memset(data_, 0, bytes);
}
InprocFifo::~InprocFifo() {
  ::operator delete (data_, std::align_val_t{64});
}

void publishFifo(const InprocKey& key, std::shared_ptr<InprocFifo> fifo) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.fifos[key] = std::move(fifo);
  // A sender whose transport is gone (or not there yet) has no inbox: it would never be drained.
  if (r.controls.count({key.commId, key.sender}) != 0)
    r.inboxes[{key.commId, key.sender}].emplace_back(key.receiver, key.connection);
}

std::shared_ptr<InprocFifo> takeFifo(const InprocKey& key) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.fifos.find(key);
  if (it == r.fifos.end()) return nullptr;
  std::shared_ptr<InprocFifo> f = std::move(it->second);
  r.fifos.erase(it);
  return f;
}

std::vector<std::pair<int, int>> takeInbox(uint64_t commId, int rank) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.inboxes.find({commId, rank});
  if (it == r.inboxes.end()) return {};
  std::vector<std::pair<int, int>> notes = std::move(it->second);
  r.inboxes.erase(it);
  return notes;
}

void registerControl(uint64_t commId, int rank, std::shared_ptr<RankControl> control) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.controls[{commId, rank}] = std::move(control);
}

std::shared_ptr<RankControl> findControl(uint64_t commId, int rank) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.controls.find({commId, rank});
  return it != r.controls.end() ? it->second : nullptr;
}

void forgetRank(uint64_t commId, int rank) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (auto it = r.fifos.begin(); it != r.fifos.end();)
    it = it->first.commId == commId && it->first.receiver == rank ? r.fifos.erase(it) : ++it;
  r.inboxes.erase({commId, rank});
  r.controls.erase({commId, rank});
}

size_t registryEntries() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.fifos.size() + r.inboxes.size() + r.controls.size();
}

}  // namespace plexus::transport::shm
