// Memory-registration cache (see mr_cache.hpp).
#include "transports/ibverbs/mr_cache.hpp"

#include <algorithm>

#include "base/error.hpp"

namespace plexus::transport::ib {

MrCache::MrCache(Registrar& registrar, size_t capacity, size_t pageSize)
    : registrar_(registrar), capacity_(capacity < 1 ? 1 : capacity), pageSize_(pageSize) {}

MrCache::~MrCache() {
  for (Entry& e : entries_) registrar_.dereg(e.registration);
}

void MrCache::drop(std::list<Entry>::iterator it) {
  registrar_.dereg(it->registration);
  ++deregistrations_;
  entries_.erase(it);
}

MrCache::Handle MrCache::acquire(const void* addr, size_t length) {
  if (length == 0) length = 1;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  uintptr_t b = a + length;
  ++clock_;
  // A hit: the smallest live registration that contains the range.
  auto best = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it)
    if (!it->retired && it->begin <= a && it->end >= b &&
        (best == entries_.end() || it->end - it->begin < best->end - best->begin))
      best = it;
  if (best != entries_.end()) {
    ++hits_;
    ++best->users;
    best->lastUse = clock_;
    return &*best;
  }
  ++misses_;
  uintptr_t begin = a / pageSize_ * pageSize_;
  uintptr_t end = (b + pageSize_ - 1) / pageSize_ * pageSize_;
  // Cover the live registrations this one overlaps, so one registration replaces them.
  for (const Entry& e : entries_)
    if (!e.retired && e.begin < end && e.end > begin) {
      begin = std::min(begin, e.begin);
      end = std::max(end, e.end);
    }
  void* reg = registrar_.reg(reinterpret_cast<void*>(begin), end - begin);
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (!it->retired && it->begin >= begin && it->end <= end) {
      it->retired = true;
      if (it->users == 0) drop(it);
    }
    it = next;
  }
  Entry e;
  e.begin = begin;
  e.end = end;
  e.registration = reg;
  e.users = 1;
  e.lastUse = clock_;
  entries_.push_front(e);
  Handle h = &entries_.front();
  evict();
  return h;
}

void MrCache::release(Handle h) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (&*it != h) continue;
    if (it->users <= 0)
      throwError(ErrorCode::kInternal, "memory registration released more often than acquired");
    --it->users;
    it->lastUse = ++clock_;  // used until now
    if (it->users == 0 && it->retired)
      drop(it);
    else
      evict();
    return;
  }
  throwError(ErrorCode::kInternal, "release of a memory registration the cache does not hold");
}

void MrCache::invalidate(const void* addr, size_t length) {
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  uintptr_t b = a + (length == 0 ? 1 : length);
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->begin < b && it->end > a) {
      it->retired = true;
      if (it->users == 0) drop(it);
    }
    it = next;
  }
}

void MrCache::evict() {
  while (entries_.size() > capacity_) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->users == 0 && (victim == entries_.end() || it->lastUse < victim->lastUse))
        victim = it;
    if (victim == entries_.end()) return;  // every registration is in use
    ++evictions_;
    drop(victim);
  }
}

}  // namespace plexus::transport::ib
