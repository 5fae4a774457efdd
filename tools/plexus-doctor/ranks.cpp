// The bootstrap between the launched ranks: reachability, clock skew, the merged report.
#include "ranks.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>

#include "base/deadline.hpp"
#include "base/socket.hpp"
#include "runtime/bootstrap.hpp"
#include "runtime/launch_env.hpp"

namespace plexus::tools::doctor {
namespace {

constexpr double kSkewWarnMs = 100;

int64_t wallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// The spread of the ranks' wall clocks read right after a barrier, in ms: the smallest of a few
// tries (the tries' all-gather time bounds how much of it is the ranks' own lateness).
Result clockSkew(runtime::Bootstrap& bs, Deadline deadline) {
  double best = -1, bound = 0;
  int worst = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    bs.barrier(deadline);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::string> clocks = bs.allGather(std::to_string(wallNs()), deadline);
    const double took = msSince(start);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    int hiRank = 0;
    for (size_t r = 0; r < clocks.size(); ++r) {
      int64_t v = std::strtoll(clocks[r].c_str(), nullptr, 10);
      lo = std::min(lo, v);
      if (v > hi) hi = v, hiRank = static_cast<int>(r);
    }
    const double spread = static_cast<double>(hi - lo) / 1e6;
    if (best < 0 || spread < best) best = spread, bound = took, worst = hiRank;
  }
  char text[160];
  std::snprintf(text, sizeof(text),
                "wall clocks of %d ranks within %.3f ms (rank %d ahead; exchange took %.3f ms)",
                bs.nranks(), best, worst, bound);
  if (best > kSkewWarnMs)
    return warn("ranks.clock_skew", text,
                "synchronise the hosts' clocks (chrony or ntpd; chronyc tracking shows the "
                "offset): traces and flight-recorder timelines of several hosts will not line up");
  return ok("ranks.clock_skew", text);
}

// The interfaces the bootstrap listens on (what PLEXUS_SOCKET_IFNAME selects).
std::string bootstrapInterfaces() {
  std::string out;
  try {
    for (const auto& n : selectInterfaces())
      if (out.find(n.name) == std::string::npos) out += (out.empty() ? "" : ",") + n.name;
  } catch (const std::exception&) {
    return "?";
  }
  return out;
}

}  // namespace

std::optional<LaunchInfo> detectLaunch() {
  LaunchInfo info;
  try {
    auto env = runtime::detectLaunchEnv(/*requireRoot=*/false);
    if (!env || env->size <= 1) return std::nullopt;
    info.rank = env->rank;
    info.size = env->size;
    info.launcher = env->launcher;
    info.root = env->rootAddress;
  } catch (const std::exception& e) {
    info.error = e.what();
  }
  for (const char* v : {"PLEXUS_LOCAL_SIZE", "LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE",
                        "SLURM_NTASKS_PER_NODE"})
    if (const char* s = std::getenv(v); s != nullptr && std::atoi(s) > 0 && info.localSize == 0)
      info.localSize = std::atoi(s);
  return info;
}

void RanksOutcome::finish() {
  if (!bootstrap) return;
  try {
    bootstrap->barrier(
        Deadline::after(std::chrono::nanoseconds(static_cast<int64_t>(timeoutSeconds * 1e9))));
  } catch (const std::exception&) {
    // Rank 0 has printed or failed; nothing is left to wait for.
  }
  bootstrap.reset();
}

RanksOutcome runAcrossRanks(const LaunchInfo& launch, std::vector<Result> mine,
                            double timeoutSeconds) {
  RanksOutcome out;
  const Deadline deadline =
      Deadline::after(std::chrono::nanoseconds(static_cast<int64_t>(timeoutSeconds * 1e9)));
  std::unique_ptr<runtime::Bootstrap> bs;
  const auto start = std::chrono::steady_clock::now();
  try {
    if (!launch.error.empty()) throw std::runtime_error(launch.error);
    auto env = runtime::detectLaunchEnv(/*requireRoot=*/true);
    runtime::UniqueId id = runtime::idFromAddress(env->rootAddress, env->secret);
    bs = runtime::Bootstrap::connect(id, launch.rank, launch.size, deadline, nullptr);
    bs->barrier(deadline);
  } catch (const std::exception& e) {
    mine.push_back(fail("ranks.reach",
                        "rank " + std::to_string(launch.rank) + " of " +
                            std::to_string(launch.size) + " (" + launch.launcher + ", root " +
                            launch.root + "): " + e.what(),
                        "check that every rank can open TCP connections to the root and to each "
                        "other on the interfaces net.interfaces names (firewall, "
                        "PLEXUS_SOCKET_IFNAME), and that all ranks were started"));
    for (auto& r : mine) out.report.push_back(RankedResult{r, {launch.rank}});
    return out;
  }
  out.reached = true;
  char text[256];
  std::snprintf(text, sizeof(text),
                "%d ranks (%s) reached each other over %s through the bootstrap root %s in %.1f ms",
                launch.size, launch.launcher.c_str(), bootstrapInterfaces().c_str(),
                launch.root.c_str(), msSince(start));
  std::vector<Result> shared = {ok("ranks.reach", text), clockSkew(*bs, deadline)};
  std::vector<std::string> blobs = bs->allGather(resultsToJson(mine), deadline);
  out.bootstrap = std::move(bs);
  out.timeoutSeconds = timeoutSeconds;
  if (launch.rank != 0) {
    for (auto& r : mine) out.report.push_back(RankedResult{r, {launch.rank}});
    return out;
  }
  std::vector<std::vector<Result>> perRank;
  for (const std::string& b : blobs) perRank.push_back(resultsFromJson(b));
  out.report = mergeRanks(perRank);
  std::vector<int> all(static_cast<size_t>(launch.size));
  for (int r = 0; r < launch.size; ++r) all[static_cast<size_t>(r)] = r;
  for (auto& r : shared) out.report.push_back(RankedResult{r, all});
  return out;
}

}  // namespace plexus::tools::doctor
