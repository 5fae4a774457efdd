// The memory-registration cache of the ibverbs transport. Registering memory with the HCA is slow
// (pins pages, programs the NIC's translation tables), so registrations are kept and reused:
// a request is served by any live registration that contains it (a hit); otherwise a page-aligned
// registration is made (a miss) which also covers every registration it overlaps, and those
// overlapped ones are retired (deregistered once no user holds them). Registrations nobody holds
// are evicted least recently used first when more than `capacity` exist. invalidate() is called
// when memory is about to be freed: registrations overlapping it are deregistered (at once, or
// when their last user releases them) and never returned again.
//
// The cache does no verbs calls itself: a Registrar does them (ibv_reg_mr/ibv_dereg_mr in the
// transport; a fake in the unit tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>

namespace plexus::transport::ib {

class Registrar {
 public:
  virtual ~Registrar() = default;
  // Registers [addr, addr + length); returns the registration (e.g. struct ibv_mr*). Throws on
  // failure.
  virtual void* reg(void* addr, size_t length) = 0;
  virtual void dereg(void* registration) = 0;
};

class MrCache {
 public:
  struct Entry {
    uintptr_t begin = 0, end = 0;  // page-aligned registered range
    void* registration = nullptr;
    int users = 0;
    uint64_t lastUse = 0;
    bool retired = false;  // overlapped by a newer registration or invalidated
  };
  using Handle = const Entry*;

  MrCache(Registrar& registrar, size_t capacity, size_t pageSize = 4096);
  ~MrCache();
  MrCache(const MrCache&) = delete;
  MrCache& operator=(const MrCache&) = delete;

  // A registration containing [addr, addr + length), held until release().
  Handle acquire(const void* addr, size_t length);
  void release(Handle h);
  // The memory [addr, addr + length) is going away.
  void invalidate(const void* addr, size_t length);

  size_t size() const { return entries_.size(); }  // live registrations (retired ones included)
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t evictions() const { return evictions_; }
  uint64_t deregistrations() const { return deregistrations_; }

 private:
  void drop(std::list<Entry>::iterator it);
  void evict();

  Registrar& registrar_;
  size_t capacity_;
  size_t pageSize_;
  std::list<Entry> entries_;
  uint64_t clock_ = 0;
  uint64_t hits_ = 0, misses_ = 0, evictions_ = 0, deregistrations_ = 0;
};

}  // namespace plexus::transport::ib
