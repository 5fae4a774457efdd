// Memory checks: what the shm transport's FIFOs need at N local ranks (the same geometry and
// budget the communicator derives: transports/common/slot_config.cpp, transports/shm/shm_fifo.hpp)
// against the budget, the memory limit and /dev/shm; hugepages for information.
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "base/env.hpp"
#include "check.hpp"
#include "plan/plan.hpp"
#include "transports/common/transport.hpp"
#include "transports/shm/shm_fifo.hpp"

namespace plexus::tools::doctor {
namespace {

namespace tp = plexus::transport;

// What the FIFOs of `ranks` ranks on this host take, as the communicator would size them.
struct FifoNeed {
  tp::SlotConfig wanted, fitted;
  int channels = 1;
  uint64_t budget = 0;
  uint64_t perRank = 0;  // one rank's receive FIFOs from all its same-host peers
  uint64_t host = 0;     // every rank's
};

FifoNeed fifoNeed(int ranks) {
  FifoNeed n;
  n.wanted = tp::slotConfigFromEnv();
  n.budget = tp::shmBudgetFromEnv();
  auto env = [](const char* name, int64_t fallback) {
    return static_cast<int>(std::clamp<int64_t>(envInt(name, fallback), 0, algo::kMaxChannels));
  };
  n.channels = std::max({env("NCHANNELS", 0), env("MAX_NCHANNELS", 0), env("MIN_NCHANNELS", 1),
                         tp::shmCosts().maxChannels});
  n.fitted = tp::fitSlotsToBudget(n.wanted, tp::slotConfigFromUser(), ranks, n.budget, n.channels);
  const uint64_t fifo = tp::shm::fifoBytes(n.fitted.slotBytes, n.fitted.slots);
  n.perRank =
      static_cast<uint64_t>(std::max(ranks - 1, 0)) * static_cast<uint64_t>(n.channels) * fifo;
  n.host = n.perRank * static_cast<uint64_t>(ranks);
  return n;
}

std::string geometry(const tp::SlotConfig& c) {
  return std::to_string(c.slots) + " x " + formatBytes(c.slotBytes) + " slots";
}

std::string orderText(const Context& ctx) {
  std::string out;
  for (const std::string& t : ctx.transports) out += (out.empty() ? "" : ",") + t;
  return out;
}

// Transports in the order that place their shared memory in /dev/shm (the built-in shm transport
// uses anonymous memfds, which the size of /dev/shm does not bound).
std::string devShmUsers(const Context& ctx) {
  std::string out;
  for (const char* t : {"ofi", "ucx"})
    if (ctx.inOrder(t)) out += std::string(out.empty() ? "" : ", ") + t;
  return out;
}

Result devShm(const Context& ctx) {
  if (!ctx.inOrder("shm") && devShmUsers(ctx).empty())
    return skip("", "no transport of the order (" + orderText(ctx) + ") uses shared memory");
  const FifoNeed need = fifoNeed(ctx.ranks);
  const std::string needs = std::to_string(ctx.ranks) + " local ranks need ~" +
                            formatBytes(static_cast<double>(need.host)) + " of FIFOs";
  const std::string users = devShmUsers(ctx);
  struct statvfs st {};
  if (statvfs("/dev/shm", &st) != 0) {
    std::string found = "/dev/shm is not mounted; " + needs;
    std::string fix =
        "mount it: mount -t tmpfs -o size=" + formatBytes(static_cast<double>(need.host) * 2) +
        " tmpfs /dev/shm (docker: --shm-size)";
    if (!users.empty()) return fail("", found + "; " + users + " put shared memory there", fix);
    return warn("", found + " (built-in shm uses memfd and is unaffected)", fix);
  }
  const double free = static_cast<double>(st.f_bavail) * static_cast<double>(st.f_frsize);
  std::string found = "/dev/shm " + formatBytes(free) + " free; " + needs;
  if (free >= static_cast<double>(need.host)) return ok("", found);
  std::string fix =
      "enlarge it: mount -o remount,size=" + formatBytes(static_cast<double>(need.host) * 2) +
      " /dev/shm (docker: --shm-size, Kubernetes: an emptyDir of medium Memory)";
  if (!users.empty())
    return fail("", found + "; " + users + " (in PLEXUS_TRANSPORTS) put their segments there", fix);
  return warn("",
              found +
                  "; built-in shm uses memfd and is unaffected, but ofi's shm provider, UCX's "
                  "posix transport and NCCL in the same job need /dev/shm",
              fix);
}

// The memory limit of this process's cgroup (v2) in bytes, 0 when none.
uint64_t cgroupMemoryLimit() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    std::string value = readLine("/sys/fs/cgroup" + line.substr(3) + "/memory.max");
    if (value.empty() || value == "max") return 0;
    return std::strtoull(value.c_str(), nullptr, 10);
  }
  return 0;
}

Result budget(const Context& ctx) {
  if (!ctx.inOrder("shm"))
    return skip("", "shm is not in the transport order (" + orderText(ctx) + ")");
  const FifoNeed n = fifoNeed(ctx.ranks);
  const uint64_t share = n.budget / static_cast<uint64_t>(std::max(ctx.ranks, 1));
  std::string found = std::to_string(ctx.ranks) + " ranks x " + std::to_string(ctx.ranks - 1) +
                      (ctx.ranks == 2 ? " peer x " : " peers x ") + std::to_string(n.channels) +
                      " channels of " + geometry(n.fitted) + ": " +
                      formatBytes(static_cast<double>(n.perRank)) + " per rank, share " +
                      formatBytes(static_cast<double>(share)) + " of PLEXUS_SHM_BUDGET " +
                      formatBytes(static_cast<double>(n.budget));
  const std::string fix =
      "raise PLEXUS_SHM_BUDGET (e.g. " + formatBytes(static_cast<double>(n.host) * 2) +
      "), make FIFOs smaller (PLEXUS_SLOT_SIZE, PLEXUS_SLOTS) or lower PLEXUS_MAX_NCHANNELS";
  if (n.perRank > share)
    return fail("", found + ": communicator init will fail (the budget is exhausted)", fix);
  const uint64_t limit = cgroupMemoryLimit();
  if (limit != 0 && n.host > limit)
    return fail(
        "", found + "; but the cgroup's memory.max is " + formatBytes(static_cast<double>(limit)),
        "raise the container's memory limit above " +
            formatBytes(static_cast<double>(n.host) * 1.5) + " or run fewer local ranks");
  if (n.fitted.slotBytes != n.wanted.slotBytes || n.fitted.slots != n.wanted.slots)
    return warn(
        "", found + " (shrunk from " + geometry(n.wanted) + " to fit: slower large messages)", fix);
  return ok("", found);
}

Result hugepages(const Context&) {
  std::ifstream in("/proc/meminfo");
  std::string line, total = "?", free = "?", size = "?";
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, value;
    fields >> key >> value;
    if (key == "HugePages_Total:") total = value;
    if (key == "HugePages_Free:") free = value;
    if (key == "Hugepagesize:") size = value + " kB";
  }
  std::string thp = readLine("/sys/kernel/mm/transparent_hugepage/enabled");
  return ok("", "HugePages_Total " + total + ", free " + free + ", size " + size +
                    "; transparent hugepages: " + (thp.empty() ? "unknown" : thp) +
                    " (information only: Plexus does not require hugepages)");
}

PLEXUS_DOCTOR_CHECK(20, "shm.size", devShm);
PLEXUS_DOCTOR_CHECK(21, "shm.budget", budget);
PLEXUS_DOCTOR_CHECK(40, "mem.hugepages", hugepages);

}  // namespace
}  // namespace plexus::tools::doctor
