// Internal to the verifier: what a collective call means, per NCCL's API. The buffer sizes each
// rank passes, how in-place calls alias them, and the value every output element must hold.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "algorithms/symbolic.hpp"

namespace plexus::algo::sym {

// Input and output sizes (elements) that rank `rank` passes; false when the collective has no
// fixed sizes (a send/recv batch).
bool apiBufferSizes(Collective c, int nranks, int rank, int root, uint64_t count, uint64_t& input,
                    uint64_t& output);

// Whether NCCL defines an in-place form of the collective.
bool hasInPlace(Collective c);

// Where input, output and scratch of one rank lie in that rank's address space.
Layout placement(Collective c, int rank, uint64_t count, const std::array<uint64_t, 3>& sizes,
                 bool inPlace);

// The value output element i of `rank` must hold; false when the collective leaves it open.
// Output element i of `rank` is the reduction of every rank's input[index]: true and index set.
bool reductionIndex(const Program& p, int rank, uint64_t i, uint64_t& index);

// The order (symbolic.hpp: orderOf) of the canonical tree over every rank's input[index].
uint64_t canonicalOrder(const Coefficients& coef, int nranks, uint64_t index);

bool expectedOutput(const Program& p, int rank, uint64_t i, const Coefficients& coef,
                    Val& expected);

// Explains how `got` differs from `expected` for output element i of `rank`.
std::string explainMismatch(const Program& p, int rank, uint64_t i, const Val& got,
                            const Val& expected, const Coefficients& coef);

}  // namespace plexus::algo::sym
