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

#include "algorithms/plan_file.hpp"
#include "algorithms/registry.hpp"
#include "algorithms/verifier.hpp"
#include "command.hpp"
#include "util/error.hpp"

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
    sub.add_option("--ranks,-n", ranks_, "ranks (default 8)");
    sub.add_option("--count", count_, "count to build for (default: chunks of --export)");
    sub.add_option("--root,-r", root_, "root of rooted collectives (default 0)");
    sub.add_option("--channels", channels_, "channels (default 1)");
    sub.add_option("--fifo", fifo_, "FIFO elements (default 2 x count; 0 = unbounded)");
    sub.add_option("--domain-size", domain_, "hier: ranks per domain (default: up to 8)");
    sub.add_option("--rank", rank_, "print this rank's steps");
    sub.add_flag("--export", export_, "write the algorithm as a plan file");
    sub.add_option("--chunks", chunks_,
                   "--export: units per count (default n x channels for "
                   "all-reduce, channels otherwise)");
    sub.add_option("--name", name_, "--export: the custom algorithm's name");
    sub.add_option("--output,-o", output_, "file to write (default: standard output)");
    sub.add_option("--check", check_, "load and verify a plan file");
    sub.add_flag("--list", list_, "list the algorithms of --coll, one per line");
  }
  int run(const GlobalOptions&) override {
    if (!check_.empty()) {
      const algo::PlanLibrary lib = algo::loadPlanFile(check_);  // throws with the report
      std::string out;
      for (const algo::PlanTemplate& t : lib.templates()) {
        out += formatString("ok: %s %s, %d ranks, %" PRIu64 " chunks, fifo %" PRIu64 " units\n",
                            t.name.c_str(), algo::collectiveName(t.collective), t.nranks, t.chunks,
                            t.fifoUnits);
      }
      emit(out, output_);
      return 0;
    }
    algo::Collective coll;
    if (!algo::parseCollective(coll_, coll) || coll == algo::Collective::kSendRecv)
      throwError(ErrorCode::kInvalidArgument, "--coll %s: unknown collective", coll_.c_str());
    if (list_) {
      std::string out;
      for (const std::string& name : algo::algorithmsFor(coll)) out += name + "\n";
      emit(out, output_);
      return 0;
    }
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
      int g = 1;
      for (int d = 1; d <= 8 && d <= ranks_; ++d)
        if (ranks_ % d == 0) g = d;
      q.groups = algo::contiguousGroups(ranks_, g);
    }
    const algo::Builder b = [&](const algo::BuildRequest& r) { return algo::buildPlan(algo_, r); };
    const algo::VerifyReport rep = algo::verifyBuilder(b, q);
    std::string out = formatString(
        "%s %s, %d ranks, count %" PRIu64 ", %d channels, fifo %" PRIu64 ": %s\n", algo_.c_str(),
        algo::collectiveName(coll), ranks_, count_, channels_, q.fifoElems, rep.text().c_str());
    if (rank_ >= 0) {
      q.rank = rank_;
      out += algo::buildPlan(algo_, q).describe();
    }
    emit(out, output_);
    return rep.ok ? 0 : 1;
  }

 private:
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
