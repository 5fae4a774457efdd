// The ibverbs memory-registration cache with a fake registrar: hits, page alignment, overlaps
// merged into one registration, LRU eviction of unused registrations only, invalidation
// (deregistration when memory goes away), and balanced register/deregister counts.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>

#include "base/error.hpp"
#include "transports/ibverbs/mr_cache.hpp"

namespace plexus::transport::ib {
namespace {

class FakeRegistrar final : public Registrar {
 public:
  struct Reg {
    uintptr_t begin, end;
  };
  void* reg(void* addr, size_t length) override {
    auto* r =
        new Reg{reinterpret_cast<uintptr_t>(addr), reinterpret_cast<uintptr_t>(addr) + length};
    live[r] = *r;
    ++registered;
    return r;
  }
  void dereg(void* registration) override {
    auto* r = static_cast<Reg*>(registration);
    EXPECT_EQ(live.erase(r), 1u) << "deregistered twice or never registered";
    delete r;
    ++deregistered;
  }
  std::map<Reg*, Reg> live;
  int registered = 0, deregistered = 0;
};

// Fake addresses (never dereferenced): the cache only does arithmetic on them.
const void* at(uintptr_t a) {
  return reinterpret_cast<const void*>(a);
}

constexpr uintptr_t kBase = 0x10000000;

TEST(MrCache, HitWhenContainedAndPageAligned) {
  FakeRegistrar r;
  MrCache c(r, 16);
  auto h = c.acquire(at(kBase + 100), 5000);
  EXPECT_EQ(h->begin, kBase);
  EXPECT_EQ(h->end, kBase + 8192);
  EXPECT_EQ(c.misses(), 1u);
  auto h2 = c.acquire(at(kBase + 4096), 4096);  // inside the pages already registered
  EXPECT_EQ(h2, h);
  EXPECT_EQ(c.hits(), 1u);
  EXPECT_EQ(h->users, 2);
  c.release(h);
  c.release(h2);
  EXPECT_EQ(c.size(), 1u);  // kept for later
  EXPECT_EQ(r.registered, 1);
  EXPECT_EQ(r.deregistered, 0);
}

TEST(MrCache, OverlapsBecomeOneRegistration) {
  FakeRegistrar r;
  MrCache c(r, 16);
  auto a = c.acquire(at(kBase), 4096);
  c.release(a);
  auto b = c.acquire(at(kBase + 8192), 4096);  // disjoint: its own registration
  EXPECT_EQ(c.size(), 2u);
  // Straddles both: one registration covering all three ranges replaces the unused one at once
  // and the used one when it is released.
  auto m = c.acquire(at(kBase + 2048), 8192);
  EXPECT_EQ(m->begin, kBase);
  EXPECT_EQ(m->end, kBase + 3 * 4096);
  EXPECT_EQ(r.deregistered, 1);  // `a` went at once
  EXPECT_EQ(c.size(), 2u);       // `m` and the retired `b`, still held
  EXPECT_EQ(c.acquire(at(kBase + 8192), 10), m) << "retired registrations are never returned";
  c.release(b);
  EXPECT_EQ(r.deregistered, 2);
  EXPECT_EQ(c.size(), 1u);
  c.release(m);
  c.release(m);
}

TEST(MrCache, EvictsLeastRecentlyUsedUnusedOnly) {
  FakeRegistrar r;
  MrCache c(r, 2);
  auto a = c.acquire(at(kBase), 10);
  auto b = c.acquire(at(kBase + 0x10000), 10);
  c.release(b);
  c.release(a);  // a used more recently than b
  auto cc = c.acquire(at(kBase + 0x20000), 10);
  EXPECT_EQ(c.evictions(), 1u);
  EXPECT_EQ(c.size(), 2u);
  // b was evicted: acquiring it again is a miss; a is still there: a hit.
  uint64_t misses = c.misses();
  auto a2 = c.acquire(at(kBase), 10);
  EXPECT_EQ(c.misses(), misses);
  c.release(a2);
  c.release(cc);
  auto b2 = c.acquire(at(kBase + 0x10000), 10);
  EXPECT_EQ(c.misses(), misses + 1);
  c.release(b2);
}

TEST(MrCache, NeverEvictsRegistrationsInUse) {
  FakeRegistrar r;
  MrCache c(r, 1);
  auto a = c.acquire(at(kBase), 10);
  auto b = c.acquire(at(kBase + 0x10000), 10);
  EXPECT_EQ(c.size(), 2u);  // over capacity, but both are held
  EXPECT_EQ(c.evictions(), 0u);
  c.release(a);  // now `a` can go
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.evictions(), 1u);
  c.release(b);
}

TEST(MrCache, InvalidateDeregistersNowOrOnLastRelease) {
  FakeRegistrar r;
  MrCache c(r, 16);
  auto a = c.acquire(at(kBase), 10);
  c.release(a);
  auto b = c.acquire(at(kBase + 0x10000), 10);
  c.invalidate(at(kBase), 4096);
  EXPECT_EQ(r.deregistered, 1);
  c.invalidate(at(kBase + 0x10000 + 100), 1);  // in use: retired, goes on release
  EXPECT_EQ(r.deregistered, 1);
  c.release(b);
  EXPECT_EQ(r.deregistered, 2);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.deregistrations(), 2u);
}

TEST(MrCache, UnbalancedReleaseIsAnError) {
  FakeRegistrar r;
  MrCache c(r, 4);
  auto a = c.acquire(at(kBase), 10);
  c.release(a);
  EXPECT_THROW(c.release(a), Error);
  MrCache::Entry foreign;
  EXPECT_THROW(c.release(&foreign), Error);
}

TEST(MrCache, DestructorDeregistersEverything) {
  FakeRegistrar r;
  {
    MrCache c(r, 8);
    for (int i = 0; i < 5; ++i) c.acquire(at(kBase + static_cast<uintptr_t>(i) * 0x10000), 100);
  }
  EXPECT_EQ(r.registered, 5);
  EXPECT_EQ(r.deregistered, 5);
  EXPECT_TRUE(r.live.empty());
}

}  // namespace
}  // namespace plexus::transport::ib
