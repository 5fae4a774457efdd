// plexus-topo simulate: the flow-level simulator's all_reduce_perf-style table for a system
// (algorithms/simulator.hpp): per size, the time, algbw and busbw of executing the plans of the
// tuner's (or a forced) algorithm over the system's links.
#include <CLI/CLI.hpp>

#include <cctype>
#include <cinttypes>
#include <cstdlib>
#include <optional>
#include <vector>

#include "algorithms/registry.hpp"
#include "algorithms/simulator.hpp"
#include "base/env.hpp"
#include "base/error.hpp"
#include "command.hpp"

namespace plexus::tools::topo {
namespace {

// "8", "64K", "16G", "1T" -> bytes (at most 1T); nullopt otherwise.
std::optional<uint64_t> sizeOf(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return std::nullopt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  int shift = 0;
  if (*end != '\0') {
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(*end)));
    shift = u == 'K' ? 10 : u == 'M' ? 20 : u == 'G' ? 30 : u == 'T' ? 40 : -1;
    if (shift < 0 || end[1] != '\0') return std::nullopt;
  }
  if (v > ((uint64_t{1} << 40) >> shift)) return std::nullopt;
  return static_cast<uint64_t>(v) << shift;
}

CLI::Validator sizeCheck() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return sizeOf(text) ? std::string() : "'" + text + "' is not a size from 0 to 1T";
      },
      "SIZE");
}

class SimulateCommand : public Command {
 public:
  const char* name() const override { return "simulate"; }
  const char* help() const override {
    return "predict an all_reduce_perf-style table by executing the plans over the system's "
           "links (flow-level)";
  }
  void configure(CLI::App& sub) override {
    sub.add_option("--ranks,-n", ranks_, "ranks (default: one per GPU, else one per host)")
        ->check(CLI::Range(1, 65536));
    sub.add_option("--coll,-c", coll_, "collective (allreduce, allgather, reducescatter, ...)");
    sub.add_option("--algo,-a", algo_, "algorithm (default: the tuner's pick per size)");
    sub.add_option("--min-bytes,-b", minBytes_, "smallest size (default 8)")->check(sizeCheck());
    sub.add_option("--max-bytes,-e", maxBytes_, "largest size (default 1G)")->check(sizeCheck());
    sub.add_option("--factor,-f", factor_, "size step factor (default 4)")
        ->check(CLI::Range(2, 1024));
    sub.add_option("--elem-size", elemSize_, "bytes per element: 1, 2, 4 or 8 (default 4)")
        ->check(CLI::IsMember(std::vector<size_t>{1, 2, 4, 8}));
    sub.add_option("--fifo-bytes", fifoBytes_, "connection FIFO bytes (default 4M)")
        ->check(sizeCheck());
    sub.add_option("--channels", o_.nchannels, "channels (default: the tuner's per size)")
        ->check(CLI::Range(1, 32));
    sub.add_option("--link-gbps", o_.linkGBps,
                   "calibration: a CPU rank's copy bandwidth and every channel's cap, GB/s")
        ->check(CLI::PositiveNumber);
    sub.add_option("--message-us", o_.messageUs,
                   "calibration: overhead per step, us (GPUs: of the Simple protocol)")
        ->check(CLI::PositiveNumber);
    sub.add_option("--call-us", o_.callUs, "calibration: base cost of a call, us")
        ->check(CLI::PositiveNumber);
    sub.add_option("--transport", o_.transport,
                   "CPU systems: shm (default) or tcp, each with its calibrated figures")
        ->check(CLI::IsMember(std::vector<std::string>{"shm", "tcp"}));
    sub.add_option("--shared-threads", o_.sharedThreads,
                   "CPU systems of several hosts: hardware threads all ranks share (network "
                   "namespaces of one machine); default: each host its own")
        ->check(CLI::Range(1, 1 << 20));
  }
  int run(const GlobalOptions& g) override {
    algo::SimReportOptions o = o_;
    if (!algo::parseCollective(coll_, o.collective) ||
        o.collective == algo::Collective::kSendRecv || o.collective == algo::Collective::kBarrier)
      throwError(ErrorCode::kInvalidArgument,
                 "--coll %s: not a collective the simulator runs (allreduce, allgather, "
                 "reducescatter, broadcast, reduce, alltoall, gather, scatter)",
                 coll_.c_str());
    o.nranks = ranks_;
    o.algorithm = algo_;
    o.elemSize = elemSize_;
    o.stepFactor = factor_;
    o.minBytes = *sizeOf(minBytes_);
    o.maxBytes = *sizeOf(maxBytes_);
    o.fifoBytes = *sizeOf(fifoBytes_);
    if (o.minBytes > o.maxBytes)
      throwError(ErrorCode::kInvalidArgument, "--min-bytes %s is larger than --max-bytes %s",
                 minBytes_.c_str(), maxBytes_.c_str());
    emit(algo::simulateReport(loadSystem(g), o));
    return 0;
  }

 private:
  algo::SimReportOptions o_;
  int ranks_ = 0;
  std::string coll_ = "allreduce";
  std::string algo_;
  std::string minBytes_ = "8";
  std::string maxBytes_ = "1G";
  std::string fifoBytes_ = "4M";
  int factor_ = 4;
  size_t elemSize_ = 4;
};

PLEXUS_TOPO_COMMAND(SimulateCommand);

}  // namespace
}  // namespace plexus::tools::topo
