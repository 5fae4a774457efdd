// Launcher environment detection.
#include "runtime/launch_env.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/host_id.hpp"

namespace plexus::runtime {
namespace {

std::optional<std::string> raw(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

int toInt(const std::string& value, const char* name) {
  char* end = nullptr;
  long v = std::strtol(value.c_str(), &end, 10);
  if (end == value.c_str() || *end != '\0' || v < 0 || v > (1 << 24))
    throwError(ErrorCode::kInvalidArgument, "%s='%s' is not a valid rank or size", name,
               value.c_str());
  return static_cast<int>(v);
}

// A job-wide secret derived from what every rank sees alike, for launchers that do not pass one.
// It keeps stray connections from other jobs out; it is not a security boundary.
Secret deriveSecret(const std::string& launcher, const std::string& root, int size) {
  std::string key = launcher + "|" + root + "|" + std::to_string(size);
  for (const char* job :
       {"SLURM_JOB_ID", "TORCHELASTIC_RUN_ID", "OMPI_MCA_orte_ess_jobid", "PMIX_NAMESPACE"})
    if (auto v = raw(job)) key += std::string("|") + *v;
  Secret s{};
  uint64_t a = fnv1a64(key.data(), key.size());
  uint64_t b = fnv1a64(key.data(), key.size(), a ^ 0x9e3779b97f4a7c15ull);
  std::memcpy(s.data(), &a, 8);
  std::memcpy(s.data() + 8, &b, 8);
  return s;
}

// First host of a Slurm node list such as "node[03-05,9],other".
std::string firstSlurmHost(const std::string& list) {
  size_t bracket = list.find('[');
  size_t comma = list.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket))
    return list.substr(0, comma);
  std::string prefix = list.substr(0, bracket);
  size_t end = list.find_first_of("-,]", bracket + 1);
  return prefix + list.substr(bracket + 1, end - bracket - 1);
}

}  // namespace

std::string rootAddressFromEnv() {
  if (auto id = envGet("COMM_ID")) return *id;
  auto addr = raw("MASTER_ADDR");
  auto port = raw("MASTER_PORT");
  if (addr && port) {
    int p = toInt(*port, "MASTER_PORT") + 1;
    bool v6 = addr->find(':') != std::string::npos;
    return (v6 ? "[" + *addr + "]" : *addr) + ":" + std::to_string(p);
  }
  return {};
}

namespace {

// The job id a launcher exports, the same on every rank of one launch; "" when none.
std::string jobIdOf(const LaunchEnv& env) {
  std::vector<const char*> names;
  if (env.launcher == "Open MPI")
    names = {"OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid", "PMIX_NAMESPACE"};
  if (env.launcher == "Slurm") names = {"SLURM_JOB_ID"};
  if (env.launcher == "torchrun") names = {"TORCHELASTIC_RUN_ID"};
  std::string id;
  for (const char* n : names)
    if (auto v = raw(n)) id += std::string(n) + "=" + *v + ";";
  if (env.launcher == "Slurm" && !id.empty())
    if (auto step = raw("SLURM_STEP_ID")) id += "step=" + *step;
  return id;
}

// The variable by which the launcher says how many ranks (or nodes) share this host.
const char* localCountVar(const LaunchEnv& env) {
  if (env.launcher == "plexus-run") return "PLEXUS_LOCAL_SIZE";
  if (env.launcher == "Open MPI") return "OMPI_COMM_WORLD_LOCAL_SIZE";
  if (env.launcher == "torchrun") return "LOCAL_WORLD_SIZE";
  if (env.launcher == "Slurm")
    return raw("SLURM_STEP_NUM_NODES") ? "SLURM_STEP_NUM_NODES" : "SLURM_NNODES";
  return nullptr;
}

// Whether the launcher says all ranks of the job run on this host.
bool allLocalOf(const LaunchEnv& env) {
  const char* name = localCountVar(env);
  auto v = name ? raw(name) : std::nullopt;
  if (!v) return false;
  return *v == (env.launcher == "Slurm" ? std::string("1") : std::to_string(env.size));
}

// What a launcher without a root address needs: the error names the launcher, what it said about
// the hosts, and the variables to set.
[[noreturn]] void noRoot(const LaunchEnv& env) {
  const char* name = localCountVar(env);
  auto v = name ? raw(name) : std::nullopt;
  std::string why;
  if (env.allLocal)
    why = "every rank is on this host (" + std::string(name) + "=" + *v + ") but " + env.launcher +
          " exports no job id to derive a port from";
  else if (v)
    why = "the ranks are on several hosts (" + std::string(name) + "=" + *v + ")";
  else
    why = std::string("the launcher does not say that every rank is on this host") +
          (name ? std::string(" (no ") + name + ")" : "");
  throwError(ErrorCode::kInvalidArgument,
             "%s started this process as rank %d of %d, but no bootstrap root address is set and "
             "%s: set PLEXUS_COMM_ID=host:port on every rank (host: an address of rank 0's host "
             "the others reach, port: a free one), or MASTER_ADDR and MASTER_PORT",
             env.launcher.c_str(), env.rank, env.size, why.c_str());
}

// The bootstrap root of a launched job (see detectLaunchEnv).
void findRoot(LaunchEnv& env, bool requireRoot) {
  env.rootAddress = rootAddressFromEnv();
  env.rootSource = "variables";
  if (env.rootAddress.empty() && env.launcher == "Slurm") {
    if (auto nodes =
            raw("SLURM_STEP_NODELIST") ? raw("SLURM_STEP_NODELIST") : raw("SLURM_JOB_NODELIST")) {
      int port = 29500;
      if (auto job = raw("SLURM_JOB_ID")) port = 20000 + toInt(*job, "SLURM_JOB_ID") % 20000;
      env.rootAddress = firstSlurmHost(*nodes) + ":" + std::to_string(port);
      env.rootSource = "Slurm node list";
    }
  }
  if (!env.rootAddress.empty()) return;
  const std::string jobId = jobIdOf(env);
  if (env.size == 1) {
    env.rootAddress = "127.0.0.1:0";
    env.rootSource = "single rank";
  } else if (env.allLocal && !jobId.empty()) {
    // Ports 20000-31999: below Linux's ephemeral range (32768-60999 by default), so no outgoing
    // connection holds it; two jobs on one host collide with odds 1 in 12000.
    const uint64_t h = fnv1a64(jobId.data(), jobId.size());
    env.rootAddress = "127.0.0.1:" + std::to_string(20000 + h % 12000);
    env.rootSource = "job id on loopback";
  } else {
    env.rootSource.clear();
    if (requireRoot) noRoot(env);
  }
}

}  // namespace

std::optional<LaunchEnv> detectLaunchEnv(bool requireRoot) {
  LaunchEnv env;
  std::optional<std::string> rank, size, local;
  if ((rank = envGet("RANK"))) {
    env.launcher = "plexus-run";
    size = envGet("WORLD_SIZE");
    local = envGet("LOCAL_RANK");
    if (!size)
      throwError(ErrorCode::kInvalidArgument, "PLEXUS_RANK is set but PLEXUS_WORLD_SIZE is not");
  } else if ((rank = raw("OMPI_COMM_WORLD_RANK"))) {
    env.launcher = "Open MPI";
    size = raw("OMPI_COMM_WORLD_SIZE");
    local = raw("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!size)
      throwError(ErrorCode::kInvalidArgument,
                 "OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_SIZE is not");
  } else if ((rank = raw("SLURM_PROCID"))) {
    env.launcher = "Slurm";
    size = raw("SLURM_NTASKS");
    local = raw("SLURM_LOCALID");
    if (!size)
      throwError(ErrorCode::kInvalidArgument, "SLURM_PROCID is set but SLURM_NTASKS is not");
  } else if ((rank = raw("RANK"))) {
    env.launcher = "torchrun";
    size = raw("WORLD_SIZE");
    local = raw("LOCAL_RANK");
    if (!size) throwError(ErrorCode::kInvalidArgument, "RANK is set but WORLD_SIZE is not");
  } else {
    return std::nullopt;
  }
  env.rank = toInt(*rank, "rank");
  env.size = toInt(*size, "world size");
  env.localRank = local ? toInt(*local, "local rank") : 0;
  if (env.size < 1 || env.rank >= env.size)
    throwError(ErrorCode::kInvalidArgument, "%s: rank %d is not below world size %d",
               env.launcher.c_str(), env.rank, env.size);
  env.allLocal = allLocalOf(env);
  findRoot(env, requireRoot);
  if (auto hex = envGet("SECRET"))
    env.secret = parseSecretHex(*hex);
  else
    env.secret = deriveSecret(env.launcher, env.rootAddress, env.size);
  return env;
}

}  // namespace plexus::runtime
