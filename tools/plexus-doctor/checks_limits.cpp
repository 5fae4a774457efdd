// Process limits and kernel settings: open files vs what a rank holds at N ranks
// (runtime/scale_support.hpp), locked memory vs RDMA registration, Yama's ptrace scope vs
// cross-memory attach (CMA).
#include <sys/resource.h>

#include <string>

#include "check.hpp"
#include "runtime/scale_support.hpp"

namespace plexus::tools::doctor {
namespace {

std::string limitText(rlim_t v) {
  return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
}

Result files(const Context& ctx) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return skip("", "getrlimit(RLIMIT_NOFILE) failed");
  const long want = runtime::fdsWanted(ctx.ranks);
  std::string found = "ulimit -n " + limitText(lim.rlim_cur) + " (hard " + limitText(lim.rlim_max) +
                      "); a rank of " + std::to_string(ctx.ranks) + " needs ~" +
                      std::to_string(want) + " descriptors";
  auto below = [want](rlim_t v) { return v != RLIM_INFINITY && static_cast<long>(v) < want; };
  const std::string fix = "raise it: ulimit -n " + std::to_string(want * 4) +
                          " (hard limit: ulimit -Hn as root, /etc/security/limits.conf nofile, "
                          "systemd LimitNOFILE=, docker --ulimit nofile=)";
  if (below(lim.rlim_max))
    return fail("", found + ": connections will fail with EMFILE (too many open files)", fix);
  if (below(lim.rlim_cur))
    return ok("", found + " (Plexus raises the soft limit to the hard one at init)");
  return ok("", found);
}

int rdmaDevices(const Context& ctx) {
  int n = 0;
  for (const auto& node : ctx.local->nodes())
    if (node.type == plexus::topo::NodeType::kNic && !node.rdmaDevice.empty()) ++n;
  return n;
}

Result memlock(const Context& ctx) {
  rlimit lim{};
  if (getrlimit(RLIMIT_MEMLOCK, &lim) != 0) return skip("", "getrlimit(RLIMIT_MEMLOCK) failed");
  std::string found =
      "ulimit -l " +
      (lim.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                     : formatBytes(static_cast<double>(lim.rlim_cur))) +
      " (hard " +
      (lim.rlim_max == RLIM_INFINITY ? std::string("unlimited")
                                     : formatBytes(static_cast<double>(lim.rlim_max))) +
      ")";
  const int rdma = rdmaDevices(ctx);
  if (rdma == 0)
    return skip("", found + "; no RDMA devices (locked memory only matters for RDMA registration)");
  found += "; " + std::to_string(rdma) + " RDMA port(s)";
  if (lim.rlim_cur == RLIM_INFINITY) return ok("", found);
  return warn("",
              found +
                  ": registering large buffers (ibverbs, ofi verbs, UCX) pins them and fails "
                  "past the limit",
              "ulimit -l unlimited (/etc/security/limits.conf: * - memlock unlimited; systemd "
              "LimitMEMLOCK=infinity; docker --ulimit memlock=-1)");
}

Result ptraceScope(const Context& ctx) {
  const std::string value = readLine("/proc/sys/kernel/yama/ptrace_scope");
  if (value.empty()) return ok("", "no Yama ptrace_scope (CMA single copy is allowed)");
  const int scope = std::atoi(value.c_str());
  std::string found = "kernel.yama.ptrace_scope=" + value;
  if (scope == 0) return ok("", found + " (CMA single copy between ranks is allowed)");
  std::string users;
  for (const char* t : {"ofi", "ucx"})
    if (ctx.inOrder(t)) users += std::string(users.empty() ? "" : ", ") + t;
  const std::string effect =
      ": ranks cannot read each other's memory with process_vm_readv (CMA), so libfabric's shm "
      "provider (ofi) and UCX's cma transport fall back to copying twice through shared-memory "
      "bounce buffers; the built-in shm transport copies through its FIFOs and is unaffected";
  const std::string fix =
      scope >= 3 ? "ptrace_scope 3 is fixed until reboot: set kernel.yama.ptrace_scope=0 in "
                   "/etc/sysctl.d/ and reboot"
                 : "sysctl -w kernel.yama.ptrace_scope=0 (persist in /etc/sysctl.d/10-ptrace.conf)";
  if (users.empty()) return ok("", found + effect + " (no CMA user in PLEXUS_TRANSPORTS)");
  return warn("", found + effect + " (in PLEXUS_TRANSPORTS: " + users + ")", fix);
}

PLEXUS_DOCTOR_CHECK(30, "limits.files", files);
PLEXUS_DOCTOR_CHECK(31, "limits.memlock", memlock);
PLEXUS_DOCTOR_CHECK(35, "kernel.ptrace_scope", ptraceScope);

}  // namespace
}  // namespace plexus::tools::doctor
