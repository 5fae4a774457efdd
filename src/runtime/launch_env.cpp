// Launcher environment detection.
#include "runtime/launch_env.hpp"

#include <cstdlib>
#include <cstring>

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

// The bootstrap root of a launched job: PLEXUS_COMM_ID (or MASTER_ADDR and MASTER_PORT); under
// Slurm, the first node of the step; for a single rank, a root of its own.
std::string rootAddressOf(const LaunchEnv& env) {
  std::string root = rootAddressFromEnv();
  if (root.empty() && env.launcher == "Slurm") {
    if (auto nodes =
            raw("SLURM_STEP_NODELIST") ? raw("SLURM_STEP_NODELIST") : raw("SLURM_JOB_NODELIST")) {
      int port = 29500;
      if (auto job = raw("SLURM_JOB_ID")) port = 20000 + toInt(*job, "SLURM_JOB_ID") % 20000;
      root = firstSlurmHost(*nodes) + ":" + std::to_string(port);
    }
  }
  if (root.empty()) {
    if (env.size == 1) {
      root = "127.0.0.1:0";
    } else {
      throwError(ErrorCode::kInvalidArgument,
                 "%s started this process as rank %d of %d, but no bootstrap root address is set: "
                 "set PLEXUS_COMM_ID=host:port (or MASTER_ADDR and MASTER_PORT)",
                 env.launcher.c_str(), env.rank, env.size);
    }
  }
  return root;
}

}  // namespace

std::optional<LaunchEnv> detectLaunchEnv() {
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
  env.rootAddress = rootAddressOf(env);
  if (auto hex = envGet("SECRET"))
    env.secret = parseSecretHex(*hex);
  else
    env.secret = deriveSecret(env.launcher, env.rootAddress, env.size);
  return env;
}

}  // namespace plexus::runtime
