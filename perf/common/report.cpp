// Formatting of the perf tools' output (see report.hpp).
#include "common/report.hpp"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

namespace plexus::perf {
namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return {};
  if (static_cast<size_t>(n) < sizeof(buf)) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  big.resize(static_cast<size_t>(n));
  return big;
}

}  // namespace

std::string formatParameterLine(const Options& o) {
  bool factor = o.stepFactor > 1;
  return format("# nThread %d nGpus %d minBytes %zu maxBytes %zu step: %" PRIu64
                "(%s) warmup iters: %d iters: %d agg iters: %d validation: %d graph: %d\n",
                o.nThreads, o.nGpus, o.minBytes, o.maxBytes,
                factor ? o.stepFactor : static_cast<uint64_t>(o.stepBytes),
                factor ? "factor" : "bytes", o.warmupIters, o.iters, o.aggIters, o.check,
                o.cudaGraph);
}

std::string formatRankLine(int rank, int group, int pid, const std::string& host, int device,
                           const std::string& memory) {
  return format("#  Rank %2d Group %2d Pid %6d on %10s device %2d %s\n", rank, group, pid,
                host.c_str(), device, memory.c_str());
}

std::string formatColumnHeader() {
  return "#                                                              out-of-place"
         "                       in-place          \n"
         "#       size         count      type   redop    root     time   algbw   busbw #wrong"
         "     time   algbw   busbw #wrong\n"
         "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)      "
         "      (us)  (GB/s)  (GB/s)       \n";
}

std::string formatRowStart(size_t bytes, size_t count, const char* type, const char* op, int root) {
  return format("%12zu  %12zu  %8s  %6s  %6d", bytes, count, type, op, root);
}

std::string formatTime(double us) {
  if (us >= 10000.0) return format("%7.0f", us);
  if (us >= 100.0) return format("%7.1f", us);
  return format("%7.2f", us);
}

std::string formatRowResult(double timeUs, double algBw, double busBw,
                            std::optional<uint64_t> wrong) {
  std::string w = wrong ? format("%6" PRIu64, *wrong) : std::string("   N/A");
  return format("  %s  %6.2f  %6.2f", formatTime(timeUs).c_str(), algBw, busBw) + " " + w;
}

std::string formatSummary(uint64_t wrong, double avgBusBw) {
  return format("# Out of bounds values : %" PRIu64 " %s\n# Avg bus bandwidth    : %g \n#\n", wrong,
                wrong == 0 ? "OK" : "FAILED", avgBusBw);
}

double algorithmBandwidth(size_t bytes, double seconds) {
  if (seconds <= 0) return 0.0;
  return static_cast<double>(bytes) / 1.0e9 / seconds;
}

}  // namespace plexus::perf
