// Deadlines for every wait: nothing in Plexus blocks forever. The default comes from
// PLEXUS_TIMEOUT (seconds).
#pragma once

#include <chrono>
#include <cstdint>

namespace plexus {

using Clock = std::chrono::steady_clock;

// The configured timeout (PLEXUS_TIMEOUT seconds, default 1800).
std::chrono::milliseconds defaultTimeout();

class Deadline {
 public:
  static Deadline after(std::chrono::nanoseconds d) { return Deadline(Clock::now() + d); }
  static Deadline fromEnv() { return after(defaultTimeout()); }

  bool expired() const { return Clock::now() >= at_; }
  // Remaining time in milliseconds, clamped to [0, capMs].
  int remainingMs(int capMs = 1 << 30) const;
  std::chrono::nanoseconds remaining() const;

 private:
  explicit Deadline(Clock::time_point at) : at_(at) {}
  Clock::time_point at_;
};

}  // namespace plexus
