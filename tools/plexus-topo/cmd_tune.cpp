// plexus-topo tune: what the tuner would pick on a system, per message size, with the predicted
// time, algbw and busbw of every candidate algorithm (algorithms/topology_costs.hpp).
//
// Staged here by the algorithms module: it belongs in tools/plexus-topo/ (one file per
// subcommand), which needs plexus_algorithms on the plexus-topo link line first.
#include <CLI/CLI.hpp>

#include "algorithms/registry.hpp"
#include "algorithms/topology_costs.hpp"
#include "command.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace plexus::tools::topo {
namespace {

class TuneCommand : public Command {
 public:
  const char* name() const override { return "tune"; }
  const char* help() const override {
    return "predict, per message size, the algorithm the tuner picks and the time, algbw and "
           "busbw of every candidate";
  }
  void configure(CLI::App& sub) override {
    sub.add_option("--ranks,-n", ranks_, "ranks (default: one per GPU, else one per host)");
    sub.add_option("--coll,-c", coll_,
                   "collective (allreduce, allgather, reducescatter, "
                   "broadcast, reduce, alltoall, gather, scatter, barrier)");
    sub.add_option("--min-bytes,-b", minBytes_, "smallest size (K/M/G suffixes)");
    sub.add_option("--max-bytes,-e", maxBytes_, "largest size (K/M/G suffixes)");
    sub.add_option("--factor,-f", factor_, "size step factor (default 4)");
    sub.add_option("--elem-size", elemSize_, "bytes per element (default 4)");
    sub.add_option("--fifo-bytes", fifoBytes_,
                   "connection FIFO bytes (default PLEXUS_SLOTS x PLEXUS_SLOT_SIZE)");
  }
  int run(const GlobalOptions& g) override {
    const plexus::topo::System s = loadSystem(g);
    algo::TuneReportOptions o;
    if (!algo::parseCollective(coll_, o.collective) || o.collective == algo::Collective::kSendRecv)
      throwError(ErrorCode::kInvalidArgument, "--coll %s: unknown collective", coll_.c_str());
    o.nranks = ranks_;
    o.elemSize = elemSize_;
    o.stepFactor = factor_;
    o.json = g.json;
    auto size = [](const std::string& text, const char* what) {
      const auto v = parseSize(text);
      if (!v) throwError(ErrorCode::kInvalidArgument, "%s %s: not a size", what, text.c_str());
      return *v;
    };
    o.minBytes = size(minBytes_, "--min-bytes");
    o.maxBytes = size(maxBytes_, "--max-bytes");
    o.fifoBytes = fifoBytes_.empty()
                      ? envSize("SLOT_SIZE", 512 << 10) * static_cast<uint64_t>(envInt("SLOTS", 8))
                      : size(fifoBytes_, "--fifo-bytes");
    emit(algo::tuneReport(s, o));
    return 0;
  }

 private:
  int ranks_ = 0;
  std::string coll_ = "allreduce";
  std::string minBytes_ = "8";
  std::string maxBytes_ = "1G";
  std::string fifoBytes_;
  int factor_ = 4;
  size_t elemSize_ = 4;
};

PLEXUS_TOPO_COMMAND(TuneCommand);

}  // namespace
}  // namespace plexus::tools::topo
