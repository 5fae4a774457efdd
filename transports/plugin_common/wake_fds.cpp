// Always-ready and nap fds for poll() (see wake_fds.hpp).
#include "transports/plugin_common/wake_fds.hpp"

#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "base/error.hpp"

namespace plexus::transport {

WakeFds::WakeFds()
    : ready_(::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK)),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {
  if (!ready_) throwSystemError(errno, "eventfd for the transport's wait set");
  if (!timer_) throwSystemError(errno, "timerfd for the transport's wait set");
}

pollfd WakeFds::nap(std::chrono::microseconds nap) {
  uint64_t expirations = 0;
  ssize_t r = ::read(timer_.get(), &expirations, sizeof(expirations));  // clears a past expiry
  (void)r;
  itimerspec spec{};
  long us = static_cast<long>(nap.count() < 1 ? 1 : nap.count());
  spec.it_value.tv_sec = us / 1000000;
  spec.it_value.tv_nsec = (us % 1000000) * 1000;
  ::timerfd_settime(timer_.get(), 0, &spec, nullptr);
  return pollfd{timer_.get(), POLLIN, 0};
}

}  // namespace plexus::transport
