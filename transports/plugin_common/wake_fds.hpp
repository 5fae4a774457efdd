// File descriptors that make the engine's poll() behave when a fabric cannot be waited on
// directly: a "ready" fd that is always readable (the fabric has work pending: do not sleep), and a
// "nap" fd, a one-shot timer that becomes readable after a short nap (the fabric has no wait
// object: come back soon to drive it). Both keep poll_fds() meaningful for any fabric.
#pragma once

#include <poll.h>

#include <chrono>

#include "base/socket.hpp"

namespace plexus::transport {

class WakeFds {
 public:
  WakeFds();
  // Always readable.
  pollfd ready() const { return pollfd{ready_.get(), POLLIN, 0}; }
  // Readable after `nap` from now (re-armed by each call).
  pollfd nap(std::chrono::microseconds nap);

 private:
  Fd ready_;
  Fd timer_;
};

}  // namespace plexus::transport
