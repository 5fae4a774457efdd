// Test helper: an object in anonymous shared memory (MAP_SHARED), made before the rank processes
// are forked, so that the test and every rank see the same one: boards of pids, counters and ids.
#pragma once

#include <sys/mman.h>

#include <new>
#include <stdexcept>

namespace plexus::test {

template <class T>
T* newShared() {
  void* mem = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("newShared: mmap of a shared board failed");
  return new (mem) T();
}

template <class T>
void deleteShared(T* p) {
  p->~T();
  munmap(p, sizeof(T));
}

}  // namespace plexus::test
