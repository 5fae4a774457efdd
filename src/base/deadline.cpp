// Deadline helpers and the PLEXUS_TIMEOUT default.
#include "base/deadline.hpp"

#include <algorithm>
#include <cmath>

#include "base/env.hpp"
#include "base/error.hpp"

namespace plexus {

std::chrono::milliseconds defaultTimeout() {
  double seconds = envDouble("TIMEOUT", 1800.0);
  if (!(seconds > 0) || !std::isfinite(seconds))
    throwError(ErrorCode::kInvalidArgument, "PLEXUS_TIMEOUT must be a positive number of seconds");
  // Longer than this is "never" (and would overflow the clock): about 31 years.
  constexpr double kLongest = 1e9;
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(seconds, kLongest) * 1000.0));
}

std::chrono::nanoseconds Deadline::remaining() const {
  if (at_ == Clock::time_point::max()) return std::chrono::nanoseconds::max();
  auto now = Clock::now();
  return now >= at_ ? std::chrono::nanoseconds(0) : at_ - now;
}

int Deadline::remainingMs(int capMs) const {
  auto r = remaining();
  if (r == std::chrono::nanoseconds::max()) return capMs;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r).count();
  if (r > std::chrono::nanoseconds(0) && ms == 0) ms = 1;
  return static_cast<int>(std::min<int64_t>(ms, capMs));
}

}  // namespace plexus
