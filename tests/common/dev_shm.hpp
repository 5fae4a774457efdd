// Test helper for the checks that a run left nothing in /dev/shm: which entries other jobs on the
// machine (a concurrent test, a benchmark) hold, so that they are not taken for this run's leaks.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>

namespace plexus::test {

// The names among `names` that a live process other than this one holds open or mapped: another
// job's (a concurrent test's) segments, not what this run left behind.
inline std::set<std::string> devShmHeldByOthers(const std::set<std::string>& names) {
  std::set<std::string> held;
  const std::string self = std::to_string(getpid());
  auto note = [&](const std::string& path) {
    const std::string prefix = "/dev/shm/";
    if (path.compare(0, prefix.size(), prefix) != 0) return;
    std::string name = path.substr(prefix.size());
    if (const size_t end = name.find(' '); end != std::string::npos) name.resize(end);
    if (names.count(name) != 0) held.insert(name);
  };
  DIR* d = opendir("/proc");
  if (d == nullptr) return held;
  while (dirent* e = readdir(d)) {
    const std::string pid = e->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid == self)
      continue;
    std::ifstream maps("/proc/" + pid + "/maps");
    for (std::string line; std::getline(maps, line);)
      if (const size_t at = line.find("/dev/shm/"); at != std::string::npos) note(line.substr(at));
    const std::string fdDir = "/proc/" + pid + "/fd";
    if (DIR* fds = opendir(fdDir.c_str())) {
      while (dirent* f = readdir(fds)) {
        char target[512];
        const std::string link = fdDir + "/" + f->d_name;
        const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
        if (n > 0) note(std::string(target, static_cast<size_t>(n)));
      }
      closedir(fds);
    }
  }
  closedir(d);
  return held;
}

}  // namespace plexus::test
