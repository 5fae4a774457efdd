// How a waiting rank is woken (part of the transport contract, transport.hpp): a doorbell that
// shared-memory peers ring, or fds to poll.
#pragma once

#include <chrono>
#include <cstdint>

namespace plexus::transport {

// A futex word that peers bump after they publish something for this rank (a slot posted or
// freed); they make the system call that wakes it only while the rank has armed it. One per rank,
// shared by every transport that rings it (shared memory).
class Doorbell {
 public:
  virtual ~Doorbell() = default;
  // Announces that this rank is about to sleep; returns what the bell shows now. The caller looks
  // for work once more after arming, then sleeps, then disarms.
  virtual uint32_t arm() = 0;
  // Sleeps until the bell moves off `seen` or `max` passes.
  virtual void sleep(uint32_t seen, std::chrono::nanoseconds max) = 0;
  virtual void disarm() = 0;
};

// How a transport wakes a rank that waits for it: peers ring a doorbell, and/or fds become ready
// (the transport's addPollFds gives them). Neither: the waiter naps briefly.
struct WakeSources {
  Doorbell* doorbell = nullptr;
  bool pollFds = false;
};

}  // namespace plexus::transport
