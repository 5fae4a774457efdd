// plexus-topo tune: what the tuner would pick on a system, per message size, with the predicted
// time, algbw and busbw of every candidate algorithm (algorithms/topology_costs.hpp).
//
// Staged here by the algorithms module: it belongs in tools/plexus-topo/ (one file per
// subcommand), which needs plexus_algorithms on the plexus-topo link line first.
#include <CLI/CLI.hpp>

#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <optional>
#include <vector>

#include "algorithms/registry.hpp"
#include "algorithms/topology_costs.hpp"
#include "base/env.hpp"
#include "base/error.hpp"
#include "command.hpp"

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
    sub.add_option("--ranks,-n", ranks_, "ranks (default: one per GPU, else one per host)")
        ->check(CLI::Range(1, kMaxRanks));
    sub.add_option("--coll,-c", coll_,
                   "collective (allreduce, allgather, reducescatter, "
                   "broadcast, reduce, alltoall, gather, scatter, barrier); a barrier moves no "
                   "data: its time only");
    sub.add_option("--min-bytes,-b", minBytes_, "smallest size (K/M/G/T suffixes; default 8)")
        ->check(sizeValidator());
    sub.add_option("--max-bytes,-e", maxBytes_, "largest size (K/M/G/T suffixes; default 1G)")
        ->check(sizeValidator());
    sub.add_option("--factor,-f", factor_, "size step factor (default 4)")
        ->check(CLI::Range(2, 1024));
    sub.add_option("--elem-size", elemSize_, "bytes per element: 1, 2, 4 or 8 (default 4)")
        ->check(CLI::IsMember(std::vector<size_t>{1, 2, 4, 8}));
    sub.add_option("--fifo-bytes", fifoBytes_,
                   "connection FIFO bytes (default PLEXUS_SLOTS x PLEXUS_SLOT_SIZE; 0: unbounded)")
        ->check(sizeValidator());
  }
  int run(const GlobalOptions& g) override {
    algo::TuneReportOptions o;
    if (!algo::parseCollective(coll_, o.collective) || o.collective == algo::Collective::kSendRecv)
      throwError(ErrorCode::kInvalidArgument,
                 "--coll %s: unknown collective (allreduce, allgather, reducescatter, broadcast, "
                 "reduce, alltoall, gather, scatter or barrier)",
                 coll_.c_str());
    o.nranks = ranks_;
    o.elemSize = elemSize_;
    o.stepFactor = factor_;
    o.json = g.json;
    o.minBytes = *checkedSize(minBytes_);
    o.maxBytes = *checkedSize(maxBytes_);
    if (o.minBytes > o.maxBytes)
      throwError(ErrorCode::kInvalidArgument,
                 "--min-bytes %s (%" PRIu64 " bytes) is larger than --max-bytes %s (%" PRIu64
                 " bytes); give -b <= -e",
                 minBytes_.c_str(), o.minBytes, maxBytes_.c_str(), o.maxBytes);
    o.fifoBytes = fifoBytes_.empty()
                      ? envSize("SLOT_SIZE", 512 << 10) * static_cast<uint64_t>(envInt("SLOTS", 8))
                      : *checkedSize(fifoBytes_);
    const plexus::topo::System s = loadSystem(g);
    emit(algo::tuneReport(s, o));
    return 0;
  }

 private:
  static constexpr int kMaxRanks = 65536;
  static constexpr uint64_t kMaxBytes = uint64_t{1} << 40;  // 1T: sizes times -f never overflow

  // A size (8, 64K, 1M, 2G, 1T) of at most 1T; nullopt when it is not one.
  static std::optional<uint64_t> checkedSize(const std::string& text) {
    if (!parseSize(text)) return std::nullopt;
    errno = 0;
    const unsigned long long digits = std::strtoull(text.c_str(), nullptr, 10);
    if (errno == ERANGE) return std::nullopt;
    const size_t unit = text.find_first_not_of("0123456789");
    int shift = 0;
    if (unit != std::string::npos) {
      const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(text[unit])));
      shift = u == 'K' ? 10 : u == 'M' ? 20 : u == 'G' ? 30 : u == 'T' ? 40 : 0;
    }
    if (digits > (kMaxBytes >> shift)) return std::nullopt;
    return static_cast<uint64_t>(digits) << shift;
  }
  static CLI::Validator sizeValidator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
          if (checkedSize(text)) return {};
          return "'" + text + "' is not a size from 0 to 1T (e.g. 8, 64K, 1M, 2G)";
        },
        "SIZE");
  }

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
