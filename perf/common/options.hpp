// Command line of the perf tools: the flags of nccl-tests, with the same defaults.
//   -b/-e min/max bytes (K/M/G suffixes), -i step bytes or -f step factor, -n iterations,
//   -w warm-up iterations, -m operations aggregated per iteration (one group), -N run cycles,
//   -c check iterations (0: no check), -o op (sum prod max min avg all), -d type (... all),
//   -r root (or all), -a aggregation of times across ranks (0 rank 0, 1 mean, 2 min, 3 max),
//   -t threads per process, -g ranks (GPUs) per thread, -T timeout in seconds, -z blocking,
//   -y null stream, -G CUDA graph launches, -C host time; -R -p -M accepted for compatibility.
//   --buffers auto|device|host (--host = --buffers host): where the send and receive buffers live
//   (auto: device memory when built with CUDA and a device is usable, else host memory).
//   perf/README.md says what each flag does on host and on device buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plexus/nccl.h"

namespace plexus::perf {

enum class BufferKind { kAuto, kDevice, kHost };

struct Options {
  int nThreads = 1;                                // -t
  int nGpus = 1;                                   // -g: ranks per thread
  size_t minBytes = 32u << 20;                     // -b
  size_t maxBytes = 32u << 20;                     // -e
  size_t stepBytes = 1u << 20;                     // -i
  uint64_t stepFactor = 1;                         // -f (used when > 1)
  int iters = 20;                                  // -n
  int aggIters = 1;                                // -m
  int warmupIters = 5;                             // -w
  int runCycles = 1;                               // -N (0: run until stopped)
  int parallelInit = 0;                            // -p
  int check = 1;                                   // -c
  std::vector<ncclRedOp_t> ops{ncclSum};           // -o
  std::vector<ncclDataType_t> types{ncclFloat32};  // -d
  int root = 0;                                    // -r; -1 = all roots
  int blocking = 0;                                // -z
  int streamNull = 0;                              // -y
  double timeoutSeconds = 0;                       // -T
  int cudaGraph = 0;                               // -G
  int reportCpuTime = 0;                           // -C
  int average = 1;                                 // -a
  int localRegister = 0;                           // -R
  int memoryReport = 0;                            // -M (accepted, no report)
  BufferKind buffers = BufferKind::kAuto;          // --buffers, --host
};

struct ParsedOptions {
  std::optional<Options> options;  // nullopt: stop with exitCode (help, or an error)
  int exitCode = 0;
  std::string message;  // help text or error message to print
};

// Parses nccl-tests style arguments (argv[0] is the program name).
ParsedOptions parseOptions(int argc, const char* const* argv);

// nccl-tests' size syntax: a number with an optional K, M or G suffix (powers of 1024).
std::optional<size_t> parseSize(std::string_view text);

// The most sizes a sweep may have (parseOptions refuses more).
constexpr size_t kMaxSizes = 1 << 16;

// The sizes of a sweep: from minBytes while <= maxBytes, multiplying by stepFactor when it is
// above 1, else adding stepBytes. (From 0 with a factor, the next size is 1.)
std::vector<size_t> sizeSequence(const Options& options);

}  // namespace plexus::perf
