// The transports of the multi-process tests, and the leftover checks of their fixture.
#include "tests/multiproc/transport_list.hpp"
#include "../common/dev_shm.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace plexus::testing {

const std::vector<TransportSetup>& transportList() {
  using enum Coverage;
  // One line per transport: its name, the plugin it needs, how much of the correctness matrix it
  // runs (kSubset: a subset of the megabyte part, for CI time; see collectives_test.cpp),
  // and the environment that selects it. mapped: collectives on the mapped executor (the step
  // interpreter over windows the ranks map), point-to-point over shm. tcp_4_sockets: 4 sockets per
  // peer, and slots over 4 KiB striped across them.
  // clang-format off
  static const std::vector<TransportSetup> list = {
    {"shm",           "",    kFull,   {{"PLEXUS_TRANSPORTS", "shm"}}},
    {"tcp",           "",    kFull,   {{"PLEXUS_TRANSPORTS", "tcp"}}},
    {"tcp_4_sockets", "",    kSubset, {{"PLEXUS_TRANSPORTS", "tcp"},
                                       {"PLEXUS_NSOCKS_PERTHREAD", "4"},
                                       {"PLEXUS_SOCKET_STRIPE", "4K"}}},
    {"ofi_tcp_rxm",   "ofi", kSubset, {{"PLEXUS_TRANSPORTS", "ofi"}, {"FI_PROVIDER", "tcp;ofi_rxm"}}},
    {"ofi_shm",       "ofi", kSubset, {{"PLEXUS_TRANSPORTS", "ofi"}, {"FI_PROVIDER", "shm"}}},
    {"ucx_tcp",       "ucx", kSubset, {{"PLEXUS_TRANSPORTS", "ucx"}, {"UCX_TLS", "tcp"}}},
    {"ucx_posix_cma", "ucx", kSubset, {{"PLEXUS_TRANSPORTS", "ucx"}, {"UCX_TLS", "posix,cma"}}},
    {"mapped",        "",    kExecutor, {{"PLEXUS_TRANSPORTS", "shm"}, {"PLEXUS_EXECUTOR", "mapped"}}},
  };
  // clang-format on
  return list;
}

std::map<std::string, std::string> rankEnvironment(const TransportSetup& t) {
  // Loopback only, whoever runs the test (CTest also sets these: PLEXUS_TEST_ENV,
  // tests/CMakeLists.txt).
  std::map<std::string, std::string> env = {
      {"PLEXUS_SOCKET_IFNAME", "lo"}, {"FI_TCP_IFACE", "lo"}, {"UCX_NET_DEVICES", "lo"}};
  for (const auto& [name, value] : t.env) env[name] = value;
  return env;
}

const TransportSetup& transportNamed(const std::string& name) {
  for (const TransportSetup& t : transportList())
    if (t.name == name) return t;
  throw std::invalid_argument("no transport named " + name + " in transportList()");
}

std::string unavailableReason(const TransportSetup& t) {
  if (t.plugin.empty()) return "";
  const std::string path =
      std::string(PLEXUS_TEST_PLUGIN_DIR) + "/libplexus-transport-" + t.plugin + ".so";
  if (access(path.c_str(), R_OK) == 0) return "";
  return "transport " + t.name + " skipped: its plugin " + path +
         " was not built here (its development package was missing when CMake ran)";
}

RunOptions optionsFor(const TransportSetup& t, int timeoutSeconds) {
  RunOptions o;
  o.env = rankEnvironment(t);
  o.env["PLEXUS_TIMEOUT"] = std::to_string(timeoutSeconds);
  return o;
}

std::set<std::string> devShmEntries() {
  std::set<std::string> names;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.insert(n);
    }
    closedir(d);
  }
  return names;
}

namespace {

// The process of a provider region "<pid>:...", or 0.
int regionPid(const std::string& name) {
  const size_t colon = name.find(':');
  if (colon == std::string::npos || colon == 0 || name.find_first_not_of("0123456789") != colon)
    return 0;
  return std::stoi(name.substr(0, colon));
}

bool processExists(int pid) {
  return kill(pid, 0) == 0 || errno != ESRCH;
}

}  // namespace

void removeDeadProvidersRegions(const std::set<std::string>& before) {
  for (const std::string& name : devShmEntries()) {
    const int pid = regionPid(name);
    if (before.count(name) == 0 && pid > 0 && !processExists(pid))
      unlink(("/dev/shm/" + name).c_str());
  }
}

std::set<std::string> leftInDevShm(const std::set<std::string>& before) {
  removeDeadProvidersRegions(before);
  std::set<std::string> left;
  for (const std::string& name : devShmEntries()) {
    const int pid = regionPid(name);
    if (before.count(name) == 0 && !(pid > 0 && processExists(pid))) left.insert(name);
  }
  // Other jobs on the machine (a concurrent test, a benchmark) may have created entries meanwhile:
  // what a live process still holds is theirs; after the run no rank of it lives.
  if (!left.empty())
    for (const std::string& name : plexus::test::devShmHeldByOthers(left)) left.erase(name);
  return left;
}

std::vector<int> childProcesses() {
  std::vector<int> children;
  const int self = static_cast<int>(getpid());
  DIR* d = opendir("/proc");
  if (d == nullptr) return children;
  while (dirent* e = readdir(d)) {
    const std::string pid = e->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in("/proc/" + pid + "/stat");
    std::string line;
    std::getline(in, line);
    // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == self) children.push_back(std::stoi(pid));
  }
  closedir(d);
  return children;
}

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

void PrintTo(const TransportSetup& t, std::ostream* os) {
  *os << t.name;
}

std::string transportName(const ::testing::TestParamInfo<TransportSetup>& info) {
  return info.param.name;
}

}  // namespace plexus::testing
