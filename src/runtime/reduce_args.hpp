// The arguments of one reduction that a same-host path keeps from posting it to finishing it
// (small_all_reduce.hpp, single_copy.hpp).
#pragma once

#include <cstddef>

#include "plexus/types.hpp"

namespace plexus::runtime {

struct ReduceArgs {
  const void* input = nullptr;
  void* output = nullptr;
  size_t count = 0;
  DataType type = DataType::kFloat32;
  RedOp op = RedOp::kSum;
};

}  // namespace plexus::runtime
