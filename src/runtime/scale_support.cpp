// Descriptor limit and resource account (scale_support.hpp).
#include "runtime/scale_support.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>

#include "base/error.hpp"
#include "base/log.hpp"

namespace plexus::runtime {
namespace {

// A "Key:   N kB" field of /proc/self/status in MiB (-1 when absent).
double statusMiB(const std::string& status, const char* key) {
  size_t at = status.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(status.c_str() + at + std::char_traits<char>::length(key), nullptr) / 1024.0;
}

int openFds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

}  // namespace

long fdsWanted(int nranks) {
  return 4L * nranks + 256;
}

void raiseFdLimitFor(int nranks) {
  static std::once_flag once;
  std::call_once(once, [nranks] {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    const long want = fdsWanted(nranks);
    if (lim.rlim_cur != RLIM_INFINITY && static_cast<long>(lim.rlim_cur) >= want) return;
    if (lim.rlim_cur == RLIM_INFINITY) return;
    const rlim_t old = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) == 0)
      PLEXUS_INFO(subsys::kInit | subsys::kBootstrap,
                  "%d ranks may need %ld file descriptors: raised the soft RLIMIT_NOFILE from %llu "
                  "to the hard limit %llu",
                  nranks, want, static_cast<unsigned long long>(old),
                  static_cast<unsigned long long>(lim.rlim_max));
    if (lim.rlim_max != RLIM_INFINITY && static_cast<long>(lim.rlim_max) < want)
      PLEXUS_WARN(
          subsys::kInit,
          "%d ranks may need %ld file descriptors but the hard RLIMIT_NOFILE is %llu: "
          "raise it (ulimit -Hn, /etc/security/limits.conf) if connections fail with EMFILE",
          nranks, want, static_cast<unsigned long long>(lim.rlim_max));
  });
}

std::string processResources() {
  std::ifstream in("/proc/self/status");
  std::string status((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return formatString("peak rss %.1f MiB (anon %.1f MiB, shm %.1f MiB), %d fds",
                      statusMiB(status, "VmHWM:"), statusMiB(status, "RssAnon:"),
                      statusMiB(status, "RssShmem:"), openFds());
}

}  // namespace plexus::runtime
