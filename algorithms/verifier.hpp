// The symbolic verifier: builds (or takes) the plans of all ranks of one collective call and
// executes them at once on symbolic values, then checks the collective's specification.
//
// Every element of every rank's buffers holds a multiset of contributions {rank r's input element
// i}, kept as (number of terms, a linear hash of the multiset over a prime field, finalize flag):
// a reduction adds the hashes, so "every contribution exactly once" is one comparison per
// element, and a wrong multiset passes that comparison with probability below 2^-59. Messages
// travel through per-(connection, sender, receiver) FIFOs of Plan::fifoElems elements (0:
// unbounded), modelled conservatively: a sending step proceeds only when its whole message fits,
// and a fused step holds the message it receives until the message it sends fits. Channels of a
// rank run as independent processes; the scheduler runs each as far as it can and wakes it when its
// FIFO changes, which finds every deadlock that any schedule could reach (each FIFO has one reader
// and one writer, and cross-channel races on a rank's memory are rejected before the run).
//
// Checks, each error naming the rank, channel, step index, the step and the element range:
//  - structure: plans agree on the call, buffer sizes match the collective, peers exist, every
//    slice of a step has the same count and lies within its buffer, no step writes the input
//    (the caller's send buffer), messages fit in the FIFO, one channel per connection;
//  - execution: message sizes match between sender and receiver, no read of an unwritten element,
//    no reduction of a finalized value, finalize applied at most once, no partially overlapping
//    source and destination, no element written by one channel and touched by another;
//  - completion: no deadlock (which ranks wait at which step for what), no message left unreceived;
//  - specification, for every rank and output element: all-reduce / reduce / reduce-scatter hold
//    every rank's contribution for that index exactly once and are finalized once; all-gather,
//    broadcast, all-to-all, gather and scatter hold exactly the right rank's input element; a
//    barrier lets no rank finish before every rank has started; with checkOrder, reductions are
//    also combined in the canonical tree (canonical.hpp) (each rank's channels have heard,
//    through chains of messages, from every rank).
// Both buffer placements are run: out of place, and in place (aliasing as plan.hpp defines).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "algorithms/builders.hpp"
#include "plan/plan.hpp"

namespace plexus::algo {

using Builder = std::function<Plan(const BuildRequest&)>;

struct VerifyOptions {
  bool outOfPlace = true;
  bool inPlace = true;                       // for collectives that NCCL defines in place
  size_t maxErrors = 8;                      // errors (and stuck channels) reported at most
  uint64_t maxElements = uint64_t{1} << 28;  // symbolic elements over all ranks (memory guard)
  uint64_t maxSteps = uint64_t{1} << 30;     // steps over all ranks
  uint64_t seed = 0x5eed5eed12345678ull;     // hash coefficients
  // Reproducible mode (canonical.hpp): every reduced output element must also combine its
  // contributions in the canonical tree over rank ids (the same expression tree, not only the
  // same multiset).
  bool checkOrder = false;
};

struct VerifyReport {
  bool ok = true;
  std::vector<std::string> errors;
  int nranks = 0;
  uint64_t steps = 0;        // steps of all ranks (one placement)
  uint64_t messages = 0;     // messages delivered, all placements
  std::string text() const;  // "ok: ..." or the errors, one per line
};

// Builds the plan of every rank with shape.rank = 0..shape.nranks-1 and verifies them.
VerifyReport verifyBuilder(const Builder& builder, const BuildRequest& shape,
                           const VerifyOptions& options = {});

// Verifies plans given for every rank (plans[r].rank == r), e.g. loaded from a plan file.
VerifyReport verifyPlanSet(const std::vector<Plan>& plans, const VerifyOptions& options = {});

// Throws plexus::Error (kInvalidUsage) with report.text() when the report is not ok.
void requireVerified(const VerifyReport& report, const std::string& what);

}  // namespace plexus::algo
