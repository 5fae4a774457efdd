// Runs a test body in a forked child process and waits for it with a bound: for tests that need
// real processes but not the rank harness of tests/multiproc (which brings libplexus with it).
// Header-only, standard library and POSIX only, so a test of any layer can include it.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <thread>

namespace plexus::testing {

// Runs `body` in a forked child; the child exits 0 when it returns, 1 when it throws (the message
// goes to stderr so ctest shows it). Returns the child's pid in the parent.
inline pid_t forkChild(const std::function<void()>& body) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  int rc = 0;
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
    rc = 1;
  }
  std::fflush(stderr);
  ::_exit(rc);
}

// Waits for a child up to `limit`, then kills it. Returns its exit status, or -1 when it was
// killed by a signal or did not finish in time.
inline int waitChild(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace plexus::testing
