// Work completion and waiting.
#include "engine/work.hpp"

#include <time.h>

#include <algorithm>

#include "base/futex.hpp"
#include "kernels/datatype.hpp"

namespace plexus::engine {

std::string WorkDesc::label() const {
  const char* typeName = dataTypeName(type);
  const auto n = static_cast<unsigned long long>(count);
  if (p2pPeer >= 0)
    return formatString("%s of %llu x %s %s rank %d", p2pSend ? "send" : "recv", n, typeName,
                        p2pSend ? "to" : "from", p2pPeer);
  if (!plan) return formatString("operation of %llu x %s", n, typeName);
  const char* coll = algo::collectiveName(plan->collective);
  bool reduces = plan->collective == algo::Collective::kAllReduce ||
                 plan->collective == algo::Collective::kReduce ||
                 plan->collective == algo::Collective::kReduceScatter;
  if (reduces)
    return formatString("%s of %llu x %s (%s, %s)", coll, n, typeName, redOpName(op),
                        plan->algorithm.c_str());
  return formatString("%s of %llu x %s (%s)", coll, n, typeName, plan->algorithm.c_str());
}

int64_t traceClockUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void TraceRef::setState(OpTrace::State s) const {
  if (!owns()) return;
  if (s == OpTrace::kDone || s == OpTrace::kFailed)
    slot->endUs.store(traceClockUs(), std::memory_order_relaxed);
  slot->state.store(s, std::memory_order_relaxed);
}

void Work::publish(State s) {
  state_.store(s, std::memory_order_release);
  if (waiters_.load(std::memory_order_seq_cst) != 0) futexWakeAll(&state_, false);
}

void Work::complete() {
  desc_.trace.setState(OpTrace::kDone);
  publish(kDone);
}

void Work::fail(ErrorCode code, std::string message) {
  if (finished()) return;
  errorCode_ = code;
  error_ = std::move(message);
  desc_.trace.setState(OpTrace::kFailed);
  publish(kFailed);
}

bool Work::waitFinished(std::chrono::nanoseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!finished()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    if (!finished())
      futexWait(&state_, kPending,
                std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::milliseconds(100)),
                false);
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }
  return true;
}

}  // namespace plexus::engine
