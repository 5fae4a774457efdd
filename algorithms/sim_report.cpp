// `plexus-topo simulate`'s table (simulator.hpp): nccl-tests' columns for the simulated time,
// then the algorithm, channels and the tuner's own prediction for the same setting.
#include <cinttypes>
#include <string>

#include "algorithms/simulator.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace {

const char* typeName(size_t elemSize) {
  switch (elemSize) {
    case 1:
      return "int8";
    case 2:
      return "half";
    case 8:
      return "double";
    default:
      return "float";
  }
}

}  // namespace

std::string simulateReport(const topo::System& system, const SimReportOptions& o) {
  if (o.elemSize == 0) throwError(ErrorCode::kInvalidArgument, "simulate: element size 0");
  const int n = simulatedRanks(system, o.nranks);
  SimCall call;
  call.collective = o.collective;
  call.nranks = n;
  call.elemSize = o.elemSize;
  call.algorithm = o.algorithm;
  call.fifoBytes = o.fifoBytes;
  call.nchannels = o.nchannels;
  call.linkGBps = o.linkGBps;
  call.messageUs = o.messageUs;
  call.callUs = o.callUs;
  call.transport = o.transport;
  call.sharedThreads = o.sharedThreads;
  const bool perRank = callBytes(o.collective, n, 1, 1) > 1;
  const bool rooted = o.collective == Collective::kBroadcast || o.collective == Collective::kReduce;
  std::string text = formatString(
      "# plexus-topo simulate: %s on %s, %d ranks, %s%s (flow-level, the plans executed)\n"
      "#\n#%12s %12s %8s %6s %6s %10s %8s %8s  %-10s %-6s %4s %10s\n"
      "#%12s %12s %8s %6s %6s %10s %8s %8s  %-10s %-6s %4s %10s\n",
      collectiveName(o.collective), system.name().c_str(), n, typeName(o.elemSize),
      o.algorithm.empty() ? ", tuner's algorithm" : (", algorithm " + o.algorithm).c_str(), "size",
      "count", "type", "redop", "root", "time", "algbw", "busbw", "algorithm", "proto", "nch",
      "model", "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "", "", "(us)");
  const uint64_t factor = static_cast<uint64_t>(o.stepFactor < 2 ? 2 : o.stepFactor);
  double busSum = 0;
  int rows = 0;
  for (uint64_t bytes = o.minBytes < o.elemSize ? o.elemSize : o.minBytes; bytes <= o.maxBytes;
       bytes *= factor) {
    call.count = perRank ? bytes / o.elemSize / static_cast<uint64_t>(n) : bytes / o.elemSize;
    if (call.count == 0) continue;
    const SimResult r = simulate(system, call);
    const double b = callBytes(o.collective, n, call.count, o.elemSize);
    const double algbw = b / (r.timeUs * 1e3);
    const double busbw = algbw * busFactor(o.collective, n);
    text += formatString(
        " %12.0f %12" PRIu64 " %8s %6s %6d %10.2f %8.2f %8.2f  %-10s %-6s %4d %10.2f\n", b,
        call.count, typeName(o.elemSize), "sum", rooted ? 0 : -1, r.timeUs, algbw, busbw,
        r.algorithm.c_str(), r.protocol.c_str(), r.nchannels, r.tunerUs);
    busSum += busbw;
    ++rows;
  }
  text += formatString("# Avg bus bandwidth    : %g\n", rows > 0 ? busSum / rows : 0.0);
  return text;
}

}  // namespace plexus::algo
