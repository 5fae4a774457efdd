// The cases the step-interpreter tests run: real plans from the algorithms' registry for every
// collective and algorithm, at several types, ops, counts, placements and channel counts; and
// running one case through a MappedExecutor on real bytes with an exact check.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/exec/exec_plan.hpp"
#include "engine/exec/mapped_executor.hpp"
#include "plan/plan.hpp"
#include "plexus/types.hpp"

namespace plexus::exectest {

// The FIFO geometry every test uses: small slots so that mid-size messages wrap the ring.
constexpr uint32_t kSlotBytes = 1024;
constexpr uint32_t kSlots = 4;
constexpr uint32_t kLargeSlotBytes = 32 * 1024;  // the "large" suite

struct ExecCase {
  algo::Collective collective = algo::Collective::kAllReduce;
  std::string algorithm;
  DataType type = DataType::kInt32;
  RedOp op = RedOp::kSum;
  uint64_t count = 0;
  bool inPlace = false;
  int nchannels = 1;
  int root = 0;
  std::string describe() const;
};

// Suites: "allreduce" (every all-reduce algorithm x 12 types x 5 ops), "reducing" (reduce and
// reduce-scatter, same), "movement" (broadcast, all-gather, all-to-all, gather, scatter, barrier
// x 12 types), "sizes" (every collective and algorithm at counts 1, odd mid-size and one that
// wraps the FIFO, 1 and 3 channels, in and out of place), "large" (all-reduce, all-gather,
// reduce-scatter and broadcast with every algorithm at 250007 elements, and the ring all-reduce at
// 1000003, 32 KiB slots).
std::vector<ExecCase> suiteCases(const std::string& suite, int nranks);

struct PreparedCase {
  ExecCase c;
  engine::exec::FlatPlan flat;
  uint64_t inputCount = 0, outputCount = 0, scratchCount = 0;
};

// The FIFO geometry of a suite.
engine::exec::FlattenOptions fifoFor(const std::string& suite);

// Builds and flattens this rank's plan of every case that the algorithm supports at this size
// (the same subset on every rank).
std::vector<PreparedCase> prepareCases(const std::vector<ExecCase>& cases, int rank, int nranks,
                                       const engine::exec::FlattenOptions& fifo = {kSlotBytes,
                                                                                   kSlots});

// Fills this rank's input (pc.inputCount elements).
void fillInput(const PreparedCase& pc, int rank, int nranks, uint64_t seed, void* input);
// Checks this rank's output (pc.outputCount elements); "" or what differs.
std::string checkOutput(const PreparedCase& pc, int rank, int nranks, uint64_t seed,
                        const void* output);

// Runs one case on real bytes and checks this rank's output; "" or what went wrong.
std::string runCase(engine::exec::MappedExecutor& ex, const PreparedCase& pc, int rank, int nranks,
                    uint64_t seed);

}  // namespace plexus::exectest
