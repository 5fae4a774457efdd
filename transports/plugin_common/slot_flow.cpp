// Credit-based flow control state machines (see slot_flow.hpp).
#include "transports/plugin_common/slot_flow.hpp"

namespace plexus::transport::flow {

uint64_t SendFlow::post() {
  return posted_++;
}

bool SendFlow::complete(uint64_t n) {
  if (n < completed_ || n >= transmitted_) return false;
  size_t i = static_cast<size_t>(n % slots_);
  if (done_[i]) return false;
  done_[i] = true;
  while (completed_ < transmitted_ && done_[static_cast<size_t>(completed_ % slots_)]) {
    done_[static_cast<size_t>(completed_ % slots_)] = false;
    ++completed_;
  }
  return true;
}

bool SendFlow::credit(uint64_t count) {
  if (count > transmitted_) return false;
  if (count > credited_) credited_ = count;
  return true;
}

bool RecvFlow::arrive(uint64_t n, uint32_t parts) {
  if (!accepts(n) || parts == 0) return false;
  size_t i = static_cast<size_t>(n % slots_);
  if (expected_[i] == 0) expected_[i] = parts;
  if (expected_[i] != parts || parts_[i] >= expected_[i]) return false;
  ++parts_[i];
  return true;
}

bool RecvFlow::ready() const {
  size_t i = static_cast<size_t>(released_ % slots_);
  return expected_[i] != 0 && parts_[i] == expected_[i];
}

uint64_t RecvFlow::release() {
  size_t i = static_cast<size_t>(released_ % slots_);
  parts_[i] = 0;
  expected_[i] = 0;
  return ++released_;
}

}  // namespace plexus::transport::flow
