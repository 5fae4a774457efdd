// Zero copy offered per call (PLEXUS_SINGLE_COPY=auto, runtime/single_copy.hpp). Call c (phase
// g = 3c, numbered alike on every rank because every rank offers the same calls):
//   offer   buffers in shared allocations: write {input, output, regions}, then phase g, into
//           every peer's word for this rank (as single copy posts). Otherwise write g into the
//           peers' `declined` word instead (best effort: the plan meets a lost peer and names it)
//           and run the plan.
//   settle  a peer's `declined` at g: run the plan. Every peer's phase at g: every rank posted
//           shared buffers and sees the same posts, so all run zero copy (runMapped).
// A rank reads a peer's word only for the call both are in: a peer cannot post call c + 1 before
// this rank settled c, because it can finish c (plan or zero copy) only with this rank's input.
#include <chrono>

#include "base/error.hpp"
#include "kernels/datatype.hpp"
#include "runtime/single_copy.hpp"

namespace plexus::runtime {

bool SingleCopy::offers(algo::Collective c, uint64_t count, size_t elemSize) const {
  return autoMode_ && c == algo::Collective::kAllReduce && count * elemSize >= threshold_ &&
         count > 0;
}

void SingleCopy::offer(const void* input, void* output, size_t count, DataType type, RedOp op) {
  const size_t bytes = count * dataTypeSize(type);
  offer_ = Offer{{input, output, count, type, op}, 3 * ++calls_, false, {}, {}};
  offer_.since = std::chrono::steady_clock::now();
  offer_.nextCheck = offer_.since + std::chrono::milliseconds(1);
  const Posted mine{reinterpret_cast<uint64_t>(input), reinterpret_cast<uint64_t>(output),
                    regionOf(input, bytes), regionOf(output, bytes)};
  if (mine.in.fd >= 0 && mine.out.fd >= 0) {
    try {
      post(offer_.phase, mine);
    } catch (const Error& e) {
      throw Error(e.code(), blame(e.what()));
    }
    return;
  }
  offer_.declined = true;
  for (int p = 0; p < setup_.nranks; ++p) {
    if (p == setup_.rank) continue;
    try {
      writePeer(p, peerWord(p) + offsetof(Word, declined), &offer_.phase, sizeof(offer_.phase),
                "a declined offer");
    } catch (const Error&) {
      // That peer is gone: the plan meets it and names it the transports' way.
    }
  }
}

SingleCopy::Settled SingleCopy::settle() {
  if (offer_.declined) return Settled::kSlots;
  const uint64_t g = offer_.phase;
  try {
    int waitingFor = -1;
    for (int p = 0; p < setup_.nranks; ++p) {
      if (p == setup_.rank) continue;
      const Word& w = words_[static_cast<size_t>(p)];
      if (w.declined.load(std::memory_order_acquire) >= g) return Settled::kSlots;
      if (w.phase.load(std::memory_order_acquire) < g && waitingFor < 0) waitingFor = p;
    }
    if (waitingFor >= 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= offer_.nextCheck) {
        checkWait(waitingFor, offer_.since, "its offer (it has not entered this all-reduce)");
        offer_.nextCheck = now + std::chrono::milliseconds(1);
      }
      return Settled::kWaiting;
    }
    runMapped(offer_.input, offer_.output, offer_.count, offer_.type, offer_.op, g);
  } catch (const Error& e) {
    throw Error(e.code(), blame(e.what()));
  }
  return Settled::kDone;
}

}  // namespace plexus::runtime
