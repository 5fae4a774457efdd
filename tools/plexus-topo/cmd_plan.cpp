// plexus-topo plan: show, verify or export the plan of a built-in algorithm, or check a plan file
// (algorithms/plan_file.hpp, docs/plan-format.md).
//
//   plexus-topo plan --coll allreduce --algo ring --ranks 8 --export [-o ring8.json]
//   plexus-topo plan --coll allgather --algo bruck --ranks 5 --count 7 --rank 2   (one rank's
//   steps) plexus-topo plan --check my-plans.json                                       (verify a
//   file)
//
// Staged here by the algorithms module: it belongs in tools/plexus-topo/ (one file per
// subcommand), which needs plexus_algorithms on the plexus-topo link line first.
#include <CLI/CLI.hpp>

#include <cinttypes>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "algorithms/plan_file.hpp"
#include "algorithms/registry.hpp"
#include "algorithms/verifier.hpp"
#include "base/error.hpp"
#include "command.hpp"
#include "plan/plan.hpp"

namespace plexus::tools::topo {
namespace {

class PlanCommand : public Command {
 public:
  const char* name() const override { return "plan"; }
  const char* help() const override {
    return "show, verify or export (--export) the plan of an algorithm; check a plan file "
           "(--check)";
  }
  void configure(CLI::App& sub) override {
    sub.add_option("--coll,-c", coll_, "collective (default allreduce)");
    sub.add_option("--algo,-a", algo_, "algorithm (default ring; see docs/algorithms.md)");
    sub.add_option("--ranks,-n", ranks_, "ranks (default 8)")->check(CLI::Range(1, kMaxRanks));
    sub.add_option("--count", count_, "count to build for (default: chunks of --export)");
    sub.add_option("--root,-r", root_, "root of rooted collectives (default 0)")
        ->check(CLI::Range(0, kMaxRanks - 1));
    sub.add_option("--channels", channels_, "channels (default 1)")
        ->check(CLI::Range(1, algo::kMaxChannels));
    sub.add_option("--fifo", fifo_, "FIFO elements (default 2 x count; 0 = unbounded)")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
    sub.add_option("--domain-size", domain_, "hier: ranks per domain (default: up to 8)")
        ->check(CLI::Range(1, kMaxRanks));
    sub.add_option("--rank", rank_, "print this rank's steps")->check(CLI::Range(0, kMaxRanks - 1));
    sub.add_flag("--export", export_, "write the algorithm as a plan file");
    sub.add_option("--chunks", chunks_,
                   "--export: units per count (default n x channels for "
                   "all-reduce, channels otherwise)");
    sub.add_option("--name", name_, "--export: the custom algorithm's name");
    sub.add_option("--output,-o", output_, "file to write (default: standard output)");
    sub.add_option("--check", check_, "load and verify a plan file");
    sub.add_flag("--list", list_, "list the algorithms of --coll, one per line");
  }
  int run(const GlobalOptions& g) override {
    if (!check_.empty()) {
      std::error_code ec;
      if (std::filesystem::is_directory(check_, ec))
        throwError(ErrorCode::kInvalidArgument, "--check %s: is a directory; give a plan file",
                   check_.c_str());
      const algo::PlanLibrary lib = algo::loadPlanFile(check_);  // throws with the report
      std::string out;
      nlohmann::ordered_json plans = nlohmann::ordered_json::array();
      for (const algo::PlanTemplate& t : lib.templates()) {
        out += formatString("ok: %s %s, %d ranks, %" PRIu64 " chunks, fifo %" PRIu64 " units\n",
                            t.name.c_str(), algo::collectiveName(t.collective), t.nranks, t.chunks,
                            t.fifoUnits);
        plans.push_back({{"name", t.name},
                         {"collective", algo::collectiveName(t.collective)},
                         {"nranks", t.nranks},
                         {"chunks", t.chunks},
                         {"fifo_units", t.fifoUnits},
                         {"ok", true}});
      }
      if (g.json) {
        nlohmann::ordered_json j;
        j["file"] = check_;
        j["ok"] = true;
        j["plans"] = plans;
        out = j.dump(1) + "\n";
      }
      emit(out, output_);
      return 0;
    }
    algo::Collective coll;
    if (!algo::parseCollective(coll_, coll) || coll == algo::Collective::kSendRecv)
      throwError(ErrorCode::kInvalidArgument, "--coll %s: unknown collective", coll_.c_str());
    if (list_) {
      std::string out;
      nlohmann::ordered_json names = nlohmann::ordered_json::array();
      for (const std::string& name : algo::algorithmsFor(coll)) {
        out += name + "\n";
        names.push_back(name);
      }
      if (g.json)
        out = nlohmann::ordered_json{{"collective", algo::collectiveName(coll)},
                                     {"algorithms", names}}
                  .dump(1) +
              "\n";
      emit(out, output_);
      return 0;
    }
    if (root_ >= ranks_)
      throwError(ErrorCode::kInvalidArgument, "--root %d: the ranks are 0..%d (--ranks %d)", root_,
                 ranks_ - 1, ranks_);
    if (rank_ >= ranks_)
      throwError(ErrorCode::kInvalidArgument, "--rank %d: the ranks are 0..%d (--ranks %d)", rank_,
                 ranks_ - 1, ranks_);
    std::vector<std::vector<int>> groups;
    if (domain_ > 0) groups = algo::contiguousGroups(ranks_, domain_);
    if (export_) {
      algo::ExportOptions o;
      o.collective = coll;
      o.algorithm = algo_;
      o.nranks = ranks_;
      o.root = root_;
      o.nchannels = channels_;
      o.chunks = chunks_;
      o.groups = groups;
      o.name = name_;
      emit(algo::exportPlanJson(o), output_);
      return 0;
    }
    algo::BuildRequest q;
    q.collective = coll;
    q.nranks = ranks_;
    q.root = root_;
    q.count = count_;
    q.nchannels = channels_;
    q.fifoElems = fifo_ >= 0 ? static_cast<uint64_t>(fifo_) : 2 * count_;
    q.groups = groups;
    if (q.groups.empty() && algo::normalizeName(algo_).rfind("hier", 0) == 0) {
      int d = 1;
      for (int k = 1; k <= 8 && k <= ranks_; ++k)
        if (ranks_ % k == 0) d = k;
      q.groups = algo::contiguousGroups(ranks_, d);
    }
    boundWork(coll, q);
    const algo::Builder b = [&](const algo::BuildRequest& r) { return algo::buildPlan(algo_, r); };
    const algo::VerifyReport rep = algo::verifyBuilder(b, q);
    std::string out = formatString(
        "%s %s, %d ranks, count %" PRIu64 ", %d channels, fifo %" PRIu64 ": %s\n", algo_.c_str(),
        algo::collectiveName(coll), ranks_, count_, channels_, q.fifoElems, rep.text().c_str());
    std::string steps;
    if (rank_ >= 0) {
      q.rank = rank_;
      steps = algo::buildPlan(algo_, q).describe();
      out += steps;
    }
    if (g.json) {
      nlohmann::ordered_json j;
      j["algorithm"] = algo_;
      j["collective"] = algo::collectiveName(coll);
      j["nranks"] = ranks_;
      j["count"] = count_;
      j["channels"] = channels_;
      j["fifo_elems"] = q.fifoElems;
      j["ok"] = rep.ok;
      j["errors"] = rep.errors;
      j["steps"] = rep.steps;
      j["messages"] = rep.messages;
      j["report"] = rep.text();
      if (rank_ >= 0) {
        j["rank"] = rank_;
        j["rank_steps"] = steps;
      }
      out = j.dump(1) + "\n";
    }
    emit(out, output_);
    return rep.ok ? 0 : 1;
  }

 private:
  static constexpr int kMaxRanks = 65536;
  // The verifier runs every rank's steps (in several placements) and keeps every message: about
  // 2M steps take seconds to tens of seconds and up to a few GB; far more take minutes.
  static constexpr uint64_t kMaxVerifySteps = uint64_t{1} << 21;
  // ... and its time also grows with ranks^2 x channels: 2^28 is about ten seconds.
  static constexpr uint64_t kMaxVerifySpread = uint64_t{1} << 28;

  // Refuses, before building every rank's plan, a verification that would take minutes: the
  // verifier's time grows with ranks^2 x channels and with the steps of all ranks (estimated as
  // rank 0's steps, all channels, times the ranks).
  void boundWork(algo::Collective coll, algo::BuildRequest q) const {
    const uint64_t n = static_cast<uint64_t>(ranks_);
    const uint64_t spread = n * n * static_cast<uint64_t>(channels_);
    if (spread > kMaxVerifySpread)
      throwError(ErrorCode::kInvalidArgument,
                 "verifying %s %s on %d ranks x %d channels: the verifier's time grows with "
                 "ranks^2 x channels (%" PRIu64 "), more than the %" PRIu64
                 " this tool verifies (about ten seconds; beyond that, minutes); give fewer "
                 "--ranks or --channels",
                 algo_.c_str(), algo::collectiveName(coll), ranks_, channels_, spread,
                 kMaxVerifySpread);
    q.rank = 0;
    uint64_t steps0 = 0;
    try {
      const algo::Plan p = algo::buildPlan(algo_, q);
      for (const algo::Channel& ch : p.channels) steps0 += ch.steps.size();
    } catch (const std::exception&) {
      return;  // the verifier reports the builder's failure
    }
    const uint64_t total = steps0 * n;
    if (total <= kMaxVerifySteps) return;
    throwError(ErrorCode::kInvalidArgument,
               "verifying %s %s on %d ranks means about %" PRIu64 " steps (%" PRIu64
               " on rank 0 x %d ranks), more than the %" PRIu64
               " this tool verifies (beyond that it takes minutes and gigabytes); give fewer "
               "--ranks or --channels or a smaller --count",
               algo_.c_str(), algo::collectiveName(coll), ranks_, total, steps0, ranks_,
               kMaxVerifySteps);
  }

  std::string coll_ = "allreduce";
  std::string algo_ = "ring";
  int ranks_ = 8;
  uint64_t count_ = 64;
  int root_ = 0;
  int channels_ = 1;
  int64_t fifo_ = -1;
  int domain_ = 0;
  int rank_ = -1;
  bool export_ = false;
  uint64_t chunks_ = 0;
  std::string name_;
  std::string output_;
  std::string check_;
  bool list_ = false;
};

PLEXUS_TOPO_COMMAND(PlanCommand);

}  // namespace
}  // namespace plexus::tools::topo
