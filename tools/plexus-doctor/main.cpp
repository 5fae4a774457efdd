// plexus-doctor: checks this host for what breaks or slows collectives (interfaces, /dev/shm,
// limits, ptrace, RDMA, plugins, topology) and prints one line per check with the fix; under a
// launcher every rank checks itself, the ranks bootstrap to each other, and rank 0 prints one
// merged report. Exit status 1 when any check FAILs.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>

#include "check.hpp"
#include "ranks.hpp"
#include "report.hpp"
#include "runtime/transport_order.hpp"
#include "topology/discovery.hpp"

using namespace plexus::tools::doctor;

namespace {

struct Options {
  int ranks = 0;
  bool json = false;
  double timeout = 60;
};

void fillContext(Context& ctx, const Options& o, const std::optional<LaunchInfo>& launch,
                 const plexus::topo::System& local, std::optional<plexus::topo::System>& file) {
  if (o.ranks > 0) {
    ctx.ranks = o.ranks;
    ctx.ranksFrom = "--ranks";
  } else if (launch && launch->localSize > 0) {
    ctx.ranks = launch->localSize;
    ctx.ranksFrom = "the launcher";
  } else {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    ctx.ranks = n > 0 ? static_cast<int>(n) : 1;
    ctx.ranksFrom = "nproc";
  }
  try {
    ctx.transports = plexus::runtime::transportOrderFromEnv();
  } catch (const std::exception& e) {
    ctx.transportError = e.what();
  }
  ctx.local = &local;
  ctx.graph = &local;
  ctx.graphFrom = "this host's discovery";
  if (const char* path = std::getenv("PLEXUS_TOPO_FILE"); path != nullptr && *path != '\0') {
    try {
      file = plexus::topo::loadSystemFile(path);
      ctx.graph = &*file;
      ctx.graphFrom = std::string("PLEXUS_TOPO_FILE=") + path;
    } catch (const std::exception& e) {
      ctx.graphError = std::string("PLEXUS_TOPO_FILE=") + path + ": " + e.what();
    }
  }
}

// Plugins are searched next to libplexus.so (its plexus/ folder); this tool links the library
// statically, so it points the search at the folder a libplexus.so beside it would use: the
// build tree's lib/plexus or the installed LIBDIR/plexus. PLEXUS_PLUGIN_PATH, when set, wins.
void searchPluginsLikeTheLibrary() {
  const char* set = std::getenv("PLEXUS_PLUGIN_PATH");
  if (set != nullptr && *set != '\0') return;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return;
  for (const char* libdir : {PLEXUS_DOCTOR_LIBDIR, "lib"}) {
    const std::filesystem::path dir = exe.parent_path().parent_path() / libdir / "plexus";
    if (std::filesystem::is_directory(dir, ec)) {
      setenv("PLEXUS_PLUGIN_PATH", dir.c_str(), 1);
      return;
    }
  }
}

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "plexus-doctor: check this host (and, under plexus-run or another launcher, every rank) "
      "for what breaks or slows collectives; one line per check: OK, WARN, FAIL or SKIP, what "
      "was found and the fix. Exit status 1 when a check FAILs. See docs/doctor.md."};
  app.name("plexus-doctor");
  app.footer(
      "Checks: net.interfaces, shm.size, shm.budget, limits.files, limits.memlock, "
      "kernel.ptrace_scope, mem.hugepages, rdma.devices, transports.plugins, transports.choice, "
      "topo.affinity, topo.pcie; under a launcher also ranks.reach and ranks.clock_skew.\n"
      "Environment read as a communicator would: PLEXUS_SOCKET_IFNAME (NCCL_SOCKET_IFNAME), "
      "PLEXUS_TRANSPORTS, PLEXUS_SHM_BUDGET, PLEXUS_SLOT_SIZE, PLEXUS_SLOTS, PLEXUS_*NCHANNELS, "
      "PLEXUS_PLUGIN_PATH, PLEXUS_TOPO_FILE.\n"
      "Exit status: 0 no check failed, 1 a check failed (or the tool could not run), 2 a bad "
      "option.");
  Options o;
  app.add_option("--ranks,-n", o.ranks,
                 "local ranks to size /dev/shm, the shm budget and descriptors for (default: the "
                 "launcher's local size, else nproc)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_flag("--json", o.json, "print a JSON array of {name, verdict, found, fix} objects");
  app.add_option("--timeout", o.timeout, "seconds the ranks may take to bootstrap (default 60)")
      ->check(CLI::Range(1.0, 3600.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "plexus-doctor: error: %s\nRun with --help for more information.\n",
                 e.what());
    return 2;
  }
  try {
    searchPluginsLikeTheLibrary();
    const std::optional<LaunchInfo> launch = detectLaunch();
    const plexus::topo::System local = plexus::topo::discoverLocal();
    std::optional<plexus::topo::System> file;
    Context ctx;
    fillContext(ctx, o, launch, local, file);
    std::vector<Result> mine = runChecks(ctx);
    std::vector<RankedResult> report;
    int nranks = 1;
    bool printAll = true;
    RanksOutcome ranks;
    if (launch) {
      ranks = runAcrossRanks(*launch, std::move(mine), o.timeout);
      report = std::move(ranks.report);
      nranks = launch->size;
      printAll = launch->rank == 0 || !ranks.reached;
    } else {
      for (auto& r : mine) report.push_back(RankedResult{std::move(r), {}});
    }
    const bool failed = anyFail(report);
    if (printAll || failed) {
      if (!printAll)  // a rank other than 0: its failures only
        std::erase_if(report,
                      [](const RankedResult& r) { return r.result.verdict != Verdict::kFail; });
      print(o.json ? formatJson(report) : formatText(report, nranks));
    }
    ranks.finish();
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plexus-doctor: error: %s\n", e.what());
    return 1;
  }
}
