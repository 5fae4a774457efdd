// Fuzz target for the environment variable parsers. The first byte picks a variable, the rest is
// its value (NUL bytes split it into the values of a launcher's several variables). Every
// documented variable goes through the typed readers (base/env.hpp); the ones with a parser of
// their own go through it too.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "algorithms/algo_filter.hpp"
#include "base/deadline.hpp"
#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "base/socket.hpp"
#include "fuzz_targets.hpp"
#include "runtime/dump_policy.hpp"
#include "runtime/injected_system.hpp"
#include "runtime/launch_env.hpp"
#include "runtime/transport_order.hpp"
#include "runtime/unique_id.hpp"
#include "topology/synthetic.hpp"
#include "transports/common/transport.hpp"
#include "transports/ibverbs/hca_list.hpp"

namespace plexus::fuzz {
namespace {

// Variables whose value is a path: their files have fuzz targets of their own (plan_file,
// nccl_xml); the fuzzer does not open or write files by name.
bool isPath(const std::string& name) {
  for (const char* p :
       {"DEBUG_FILE", "DUMP_DIR", "PLAN_FILE", "TOPO_FILE", "TOPO_DUMP_FILE", "PLUGIN_PATH"})
    if (name == p) return true;
  return false;
}

// Sets variables for the duration of one input.
class Env {
 public:
  void set(const std::string& name, const std::string& value) {
    ::setenv(name.c_str(), value.c_str(), 1);
    names_.push_back(name);
  }
  ~Env() {
    for (const auto& n : names_) ::unsetenv(n.c_str());
  }

 private:
  std::vector<std::string> names_;
};

template <typename F>
void refusedOk(F&& f) {
  try {
    f();
  } catch (const Error&) {
  }
}

// parseSize against the arithmetic done without overflow: a size that does not fit is refused.
void checkParseSize(const std::string& v) {
  const auto got = parseSize(v);
  if (!got) return;
  unsigned __int128 value = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9' && value >> 64 == 0; ++i)
    value = value * 10 + static_cast<unsigned>(v[i] - '0');
  if (i < v.size()) {
    const char u = static_cast<char>(v[i] | 0x20);
    value <<= u == 'k' ? 10 : u == 'm' ? 20 : u == 'g' ? 30 : u == 't' ? 40 : 0;
  }
  if (value != *got) broken("parseSize returned a value the text does not say (overflow?)");
}

void typedReaders(const std::string& name, const std::string& value) {
  refusedOk([&] { (void)envString(name, ""); });
  refusedOk([&] { (void)envInt(name, 0); });
  refusedOk([&] {
    const double d = envDouble(name, 0);
    (void)d;
  });
  refusedOk([&] { (void)envBool(name, false); });
  refusedOk([&] { (void)envSize(name, 0); });
  checkParseSize(value);
}

void launcher(Env& env, const std::vector<std::string>& f, uint8_t which) {
  static const char* const kSets[][4] = {
      {"PLEXUS_RANK", "PLEXUS_WORLD_SIZE", "PLEXUS_LOCAL_RANK", "PLEXUS_COMM_ID"},
      {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "MASTER_ADDR"},
      {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_NODELIST", "SLURM_JOB_ID"},
      {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"},
  };
  const auto& set = kSets[which % 4];
  for (size_t i = 0; i < 4 && i < f.size(); ++i) env.set(set[i], f[i]);
  if (f.size() > 4) env.set("PLEXUS_SECRET", f[4]);
  refusedOk([] { (void)runtime::detectLaunchEnv(); });
  refusedOk([] { (void)runtime::rootAddressFromEnv(); });
}

void specific(const std::string& name, const std::string& v) {
  if (name == "TIMEOUT") refusedOk([] { (void)defaultTimeout(); });
  if (name == "SECRET") refusedOk([&] { (void)runtime::parseSecretHex(v); });
  if (name == "SOCKET_IFNAME")
    for (const char* n : {"eth0", "lo", "ib0", "docker0", ""}) (void)interfaceMatches(v, n);
  if (name == "ALGO") refusedOk([&] { (void)algo::AlgoFilter::parse(v); });
  if (name == "IB_HCA")
    refusedOk([&] { (void)transport::ib::HcaFilter::parse(v).selects("mlx5_0", 1); });
  if (name == "SYSTEM") {
    refusedOk([&] { (void)topo::parseSyntheticSpec(v); });
    refusedOk([] { (void)runtime::injectedSystemFromEnv(0, 8, 4); });
  }
  if (name == "SLOT_SIZE" || name == "SLOTS")
    refusedOk([] { (void)transport::slotConfigFromEnv(); });
  if (name == "SHM_BUDGET") refusedOk([] { (void)transport::shmBudgetFromEnv(); });
  if (name == "TRANSPORTS" || name == "SHM_DISABLE")
    refusedOk([] {
      if (runtime::transportOrderFromEnv().empty()) broken("an empty transport order");
    });
  if (name == "DUMP_ON") {
    refusedOk([&] { (void)runtime::DumpPolicy::parse(v); });
    refusedOk([] { (void)runtime::DumpPolicy::fromEnv(); });
  }
  if (name == "DEBUG" || name == "DEBUG_SUBSYS") {
    logReset();
    (void)logEnabled(LogLevel::kInfo, subsys::kInit);
  }
}

}  // namespace

int envVars(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto vars = documentedEnvVars();
  // "NAME=value" for a documented variable, "launchK:rank\0size\0..." for launcher K's variables
  // (PLEXUS_*, Open MPI, Slurm, torchrun), else the first byte picks a variable.
  const size_t eq = text.find('=');
  const EnvVar* var = nullptr;
  std::string rest = text.substr(1);
  for (const EnvVar& v : vars)
    if (eq != std::string::npos && text.compare(0, eq, v.name) == 0 && std::strlen(v.name) == eq) {
      var = &v;
      rest = text.substr(eq + 1);
    }
  if (var == nullptr && text.rfind("launch", 0) == 0 && text.size() > 7 && text[7] == ':') {
    std::vector<std::string> fields(1);
    for (size_t i = 8; i < text.size(); ++i) {
      if (text[i] == '\0')
        fields.emplace_back();
      else
        fields.back() += text[i];
    }
    Env env;
    launcher(env, fields, static_cast<uint8_t>(text[6]));
    return 0;
  }
  if (var == nullptr) var = &vars[data[0] % vars.size()];
  if (isPath(var->name)) return 0;
  const std::string value = rest.substr(0, rest.find('\0'));  // what an environment can hold
  const std::string full = std::string("PLEXUS_") + var->name;
  {
    Env env;
    env.set(full, value);
    typedReaders(var->name, value);
    specific(var->name, value);
  }
  if (full == "PLEXUS_DEBUG" || full == "PLEXUS_DEBUG_SUBSYS") logReset();
  return 0;
}

}  // namespace plexus::fuzz
