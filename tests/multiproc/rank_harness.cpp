// Fork-based multi-rank test harness.
#include "tests/multiproc/rank_harness.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace plexus::testing {
namespace {

struct SharedId {
  std::atomic<int> ready;
  ncclUniqueId id;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<RankOutcome> runRanks(int nranks, const RankBody& body, const RunOptions& options) {
  void* mem =
      mmap(nullptr, sizeof(SharedId), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* shared = new (mem) SharedId();
  std::vector<pid_t> pids(static_cast<size_t>(nranks));
  std::vector<std::string> logs(static_cast<size_t>(nranks));
  char dirTemplate[] = "/tmp/plexus-test-XXXXXX";
  std::string dir = mkdtemp(dirTemplate);
  std::fflush(stdout);
  std::fflush(stderr);
  for (int r = 0; r < nranks; ++r) {
    logs[static_cast<size_t>(r)] = dir + "/rank" + std::to_string(r) + ".log";
    pid_t pid = fork();
    if (pid == 0) {
      FILE* f = std::freopen(logs[static_cast<size_t>(r)].c_str(), "w", stderr);
      if (f == nullptr) _exit(90);
      dup2(fileno(stderr), STDOUT_FILENO);
      setvbuf(stderr, nullptr, _IONBF, 0);
      for (const auto& [k, v] : options.env) setenv(k.c_str(), v.c_str(), 1);
      ncclUniqueId id{};
      if (options.rank0MakesId) {
        if (r == 0) {
          if (ncclGetUniqueId(&shared->id) != ncclSuccess) {
            std::fprintf(stderr, "ncclGetUniqueId failed: %s\n", ncclGetLastError(nullptr));
            shared->ready.store(-1);
            _exit(91);
          }
          shared->ready.store(1);
        }
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (shared->ready.load() == 0 && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (shared->ready.load() != 1) {
          std::fprintf(stderr, "rank %d: no unique id from rank 0\n", r);
          _exit(92);
        }
        id = shared->id;
      }
      int rc = 1;
      try {
        rc = body(r, nranks, id);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: exception: %s\n", r, e.what());
        rc = 93;
      }
      std::fflush(nullptr);
      _exit(rc);
    }
    pids[static_cast<size_t>(r)] = pid;
  }
  std::vector<RankOutcome> out(static_cast<size_t>(nranks));
  std::vector<bool> done(static_cast<size_t>(nranks), false);
  int remaining = nranks;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeoutSeconds);
  bool timedOut = false;
  while (remaining > 0) {
    for (int r = 0; r < nranks; ++r) {
      if (done[static_cast<size_t>(r)]) continue;
      int status = 0;
      pid_t got = waitpid(pids[static_cast<size_t>(r)], &status, WNOHANG);
      if (got == pids[static_cast<size_t>(r)]) {
        done[static_cast<size_t>(r)] = true;
        --remaining;
        out[static_cast<size_t>(r)].exitCode =
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    if (remaining == 0) break;
    if (std::chrono::steady_clock::now() > deadline && !timedOut) {
      timedOut = true;
      for (int r = 0; r < nranks; ++r)
        if (!done[static_cast<size_t>(r)]) kill(pids[static_cast<size_t>(r)], SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (int r = 0; r < nranks; ++r) {
    out[static_cast<size_t>(r)].output = readFile(logs[static_cast<size_t>(r)]);
    if (timedOut) out[static_cast<size_t>(r)].output += "\n[harness: killed after the timeout]";
    unlink(logs[static_cast<size_t>(r)].c_str());
  }
  rmdir(dir.c_str());
  shared->~SharedId();
  munmap(mem, sizeof(SharedId));
  return out;
}

int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

std::string describeFailures(const std::vector<RankOutcome>& outcomes) {
  std::string s;
  for (size_t r = 0; r < outcomes.size(); ++r) {
    if (outcomes[r].exitCode == 0) continue;
    s += "rank " + std::to_string(r) + " exited with " + std::to_string(outcomes[r].exitCode) +
         ":\n" + outcomes[r].output.substr(0, 4000) + "\n";
  }
  return s;
}

}  // namespace plexus::testing
