// Reproducible reductions (PLEXUS_REPRODUCIBLE=1, docs/algorithms.md "Reproducible mode"): the
// canonical order in which the n contributions to one element are combined, whatever algorithm,
// channel count, chunk size, ring order, placement or transport carries them.
//
// The canonical tree over ranks [lo, hi): a leaf when hi - lo == 1; otherwise the first P ranks
// (P the largest power of two below hi - lo) combined with the rest, each side canonical:
// ((x0 + x1) + (x2 + x3)) + x4 for 5 ranks, ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + x6) for 7 -
// bottom-up pairwise summation with the odd tail carried. Each (+) is one binary reduction of
// the kernels (reduceBuffers: a + b == b + a bitwise), so the bits depend only on the tree.
// AVG is the canonical sum and then one division by n.
//
// Ranks visited in order 0..n-1 build it with a binary counter: leaf j completes the subtrees of
// the trailing one-bits of j + 1, and after the last leaf the pending subtrees (one per one-bit
// of n, largest leftmost) are combined from the right. CanonicalSchedule lists those operations.
#pragma once

#include <cstdint>
#include <vector>

#include "plan/plan.hpp"

namespace plexus::algo {

// Where the canonical tree over [lo, hi) splits: lo + the largest power of two below hi - lo
// (hi - lo >= 2).
int canonicalSplit(int lo, int hi);

// The collectives whose results the mode constrains: all-reduce, reduce-scatter, reduce.
bool reproducibleCollective(Collective c);

// One operation of the canonical reduction of one element position as a rank performs it:
// a leaf (rank `leaf`'s contribution, combined with operand `a` unless a < 0) or an inner
// combination of two earlier values a and b. Values are numbered by the op that made them;
// `slot` is the scratch slot the value lives in (slots are reused once their value is consumed).
struct CanonicalOp {
  int leaf = -1;  // >= 0: contribution of this rank
  int a = -1;     // earlier value combined with it (-1: none, the leaf alone is the value)
  int b = -1;     // inner combination: the second earlier value
  int slot = -1;  // scratch slot of the result (the last op writes the destination instead)
};

struct CanonicalSchedule {
  std::vector<CanonicalOp> ops;  // in execution order; ops.back() is the root
  int slots = 0;                 // scratch slots used at once, at most
};

// The canonical reduction of n contributions visited in rank order. A leaf that stands alone
// (a == -1) and is `own` (the rank's local input) needs no slot (slot == -1): it is read in place.
CanonicalSchedule canonicalSchedule(int n, int own);

}  // namespace plexus::algo
