// The fault matrix's injection and leak checks (fault_matrix_test.hpp).
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <new>
#include <thread>
#include <vector>

#include "tests/multiproc/fault_matrix_test.hpp"

namespace plexus::testing::faults {

const char* faultName(Fault f) {
  switch (f) {
    case Fault::kKill:
      return "kill";
    case Fault::kStop:
      return "stop";
    case Fault::kClose:
      return "close";
  }
  return "?";
}

const char* phaseName(Phase p) {
  switch (p) {
    case Phase::kInit:
      return "init";
    case Phase::kMid:
      return "mid";
    case Phase::kTeardown:
      return "teardown";
  }
  return "?";
}

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double secondsSince(int64_t ns) {
  return static_cast<double>(nowNs() - ns) / 1e9;
}

namespace {

// The descriptors of this process (the listing's own descriptor left out).
std::vector<int> openDescriptors() {
  std::vector<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return fds;
  const int own = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != own) fds.push_back(fd);
  }
  closedir(d);
  return fds;
}

bool isSocket(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int countEntries(const char* dir) {
  int n = 0;
  if (DIR* d = opendir(dir)) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n;
}

}  // namespace

int countSockets() {
  int n = 0;
  for (int fd : openDescriptors()) n += isSocket(fd) ? 1 : 0;
  return n;
}

void inject(Fault f, Board* board) {
  board->faultAtNs.store(nowNs());
  switch (f) {
    case Fault::kKill:
      raise(SIGKILL);
      break;
    case Fault::kStop:
      raise(SIGSTOP);
      break;
    case Fault::kClose:
      // Every socket: bootstrap links and listener, transport connections, the shm links, the
      // plugins' own. Reads then see the end of stream, writes EPIPE, peers a closed connection.
      for (int fd : openDescriptors())
        if (isSocket(fd)) shutdown(fd, SHUT_RDWR);
      break;
  }
}

bool heldByALiveProcess(const std::string& path) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return false;
  bool held = false;
  while (dirent* e = readdir(proc)) {
    const std::string pid = e->d_name;
    if (held || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream maps("/proc/" + pid + "/maps");
    for (std::string line; !held && std::getline(maps, line);)
      held = line.find(path) != std::string::npos;
    if (DIR* fds = opendir(("/proc/" + pid + "/fd").c_str())) {
      while (dirent* f = readdir(fds)) {
        char target[512] = {};
        const std::string link = "/proc/" + pid + "/fd/" + f->d_name;
        ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
        if (n > 0 && std::string(target, n).rfind(path, 0) == 0) held = true;
      }
      closedir(fds);
    }
  }
  closedir(proc);
  return held;
}

Holdings holdings() {
  Holdings h;
  for (int fd : openDescriptors()) {
    char target[256] = {};
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    std::string to = n > 0 ? std::string(target, n) : "?";
    // A descriptor inherited from the launcher (CTest's log) may see its file deleted meanwhile.
    const std::string deleted = " (deleted)";
    if (to.size() > deleted.size() && to.ends_with(deleted)) to.resize(to.size() - deleted.size());
    h.fds.insert(std::to_string(fd) + " -> " + to);
  }
  h.threads = countEntries("/proc/self/task");
  return h;
}

std::string leakedSince(const Holdings& before) {
  std::string leaked;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const Holdings now = holdings();
    leaked.clear();
    for (const std::string& fd : now.fds)
      if (before.fds.count(fd) == 0) leaked += " fd " + fd + ";";
    if (now.threads > before.threads)
      leaked += " " + std::to_string(now.threads - before.threads) + " more thread(s);";
    if (leaked.empty()) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return leaked;
}

}  // namespace plexus::testing::faults
