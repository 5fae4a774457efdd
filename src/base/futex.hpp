// Futex wait/wake on a 32-bit word, process-shared or private. Used by the engine's wait policy:
// spin briefly, then sleep here until a peer rings the word.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace plexus {

// Sleeps while *word == expected, at most `timeout`. Returns false on timeout.
bool futexWait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout,
               bool processShared);
void futexWakeAll(std::atomic<uint32_t>* word, bool processShared);

// CPU relax hint for spin loops.
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace plexus
