// The text the perf tools print, in nccl-tests' layout, so that scripts that parse nccl-tests
// output read Plexus's unchanged: '#' header lines, one row per size with out-of-place then
// in-place columns (time in us, algbw and busbw in GB/s, #wrong), and the summary lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/options.hpp"

namespace plexus::perf {

// "# nThread 1 nGpus 1 minBytes 8 maxBytes 67108864 step: 4(factor) warmup iters: 5 iters: 20
//  agg iters: 1 validation: 1 graph: 0"
std::string formatParameterLine(const Options& o);

// "#  Rank  0 Group  0 Pid  12345 on     host device  0 [host] CPU memory"; on device buffers
// `memory` is nccl-tests' "[0000:19:00] NVIDIA H100 80GB HBM3" (PCI id and name of the GPU).
std::string formatRankLine(int rank, int group, int pid, const std::string& host, int device,
                           const std::string& memory = "[host] CPU memory");

// The three column header lines (starting with '#').
std::string formatColumnHeader();

// "         1024           256     float     sum      -1" (size, count, type, redop, root).
std::string formatRowStart(size_t bytes, size_t count, const char* type, const char* op, int root);

// "   123.4    0.01    0.02      0" (time, algbw, busbw, #wrong or N/A when not checked).
std::string formatRowResult(double timeUs, double algBw, double busBw,
                            std::optional<uint64_t> wrong);

// nccl-tests time format: 2 decimals below 100 us, 1 below 10 ms, none above; 7 wide.
std::string formatTime(double us);

// "# Out of bounds values : 0 OK\n# Avg bus bandwidth    : 12.3456 \n#\n"
std::string formatSummary(uint64_t wrong, double avgBusBw);

// Bandwidths in GB/s (10^9 bytes per second) for `bytes` moved in `seconds`.
double algorithmBandwidth(size_t bytes, double seconds);

}  // namespace plexus::perf
