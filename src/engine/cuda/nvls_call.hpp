// One rank's call of the nvls all-reduce on the device (nvls_executor.hpp), taken from the flat
// nvls plan, and its status in words. Host only, built with and without CUDA.
#pragma once

#include <cstdint>
#include <string>

#include "engine/exec/exec_plan.hpp"
#include "plexus/types.hpp"

namespace plexus::engine::cuda {

struct NvlsCall {
  const void* input = nullptr;  // device memory, count elements
  void* output = nullptr;       // device memory, count elements (may equal input)
  uint64_t count = 0;
  DataType type = DataType::kFloat32;
  RedOp op = RedOp::kSum;
  int rank = 0;
  int nranks = 1;
  int nchannels = 1;  // blocks per rank: the plan's channels
};

// The call the flat plan of the nvls all-reduce describes (rank, ranks, count, type, op,
// channels). Throws Error(kInvalidArgument) for another algorithm or collective, and
// Error(kInvalidUsage) when nvlsSupports(type, op) is false: run that plan on the generic device
// executor instead.
NvlsCall nvlsCallFor(const exec::FlatPlan& plan, const void* input, void* output);

// Statuses the nvls kernel writes: ExecStatus::code (kExecOk, kExecTimeout, kExecAborted),
// channel, step = the barrier (0: inputs copied in, 1: sums stored), piece = the chunk,
// message = the barrier counter's target and gotBytes its last value seen (low 32 bits).
std::string describeNvlsStatus(const NvlsCall& call, const exec::ExecStatus& status);

}  // namespace plexus::engine::cuda
