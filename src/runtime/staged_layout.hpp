// Which buffers an operation reads and writes on this rank, and how many bytes: what the
// memory-kind check classifies and what the staged path copies to and from pinned host memory.
#pragma once

#include <cstddef>

#include "runtime/op_args.hpp"

namespace plexus::runtime {

struct BufferUse {
  size_t inputBytes = 0;   // 0: the input is not read on this rank
  size_t outputBytes = 0;  // 0: the output is not written on this rank
};

// NCCL's rules: count is per rank for all-gather (input) and reduce-scatter (output); the
// input of broadcast/scatter is read only at the root, the output of reduce/gather written only
// there; send reads, receive writes.
BufferUse bufferUse(const OpArgs& a, int rank, int nranks);

}  // namespace plexus::runtime
