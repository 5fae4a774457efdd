// The registry of live flight recorders, the fatal-signal handlers and the SIGUSR1 watcher
// (flight_dumps.hpp says how they fit together).
#include "runtime/flight_dumps.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <mutex>
#include <thread>

#include "base/log.hpp"

namespace plexus::runtime {
namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM};
constexpr int kSignalLimit = 65;

struct Entry {
  std::atomic<const FlightRecorder*> recorder{nullptr};
  std::atomic<bool> fatal{false};
  std::atomic<bool> usr1{false};
};

// The registry's state. Made once and never destroyed (a handler may run during exit).
struct Registry {
  Entry entries[kMaxRecorders];
  std::mutex mutex;         // add, remove, and the watcher's dumps
  std::mutex watcherMutex;  // starting and stopping the watcher (taken before `mutex`)
  std::atomic<int> handlersInside{0};
  std::atomic<int> usr1Users{0};
  std::atomic<int> pipeWrite{-1};
  int pipeRead = -1;
  std::thread watcher;
  bool fatalInstalled = false, usr1Installed = false;
  struct sigaction previous[kSignalLimit] = {};
};

Registry& registry() {
  static Registry* r = new Registry();  // intentionally never freed: see above
  return *r;
}

// Calls the handler installed before ours, or restores the default action and raises the signal
// again (delivered when this handler returns; a fault re-executes and faults again).
void chain(int sig, siginfo_t* info, void* context) {
  const struct sigaction& prev = registry().previous[sig];
  if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, context);
    return;
  }
  if (prev.sa_handler == SIG_IGN) return;
  if (prev.sa_handler != SIG_DFL && prev.sa_handler != nullptr) {
    prev.sa_handler(sig);
    return;
  }
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  raise(sig);
}

void onFatalSignal(int sig, siginfo_t* info, void* context) {
  static std::atomic<bool> entered{false};
  Registry& r = registry();
  if (!entered.exchange(true)) {
    r.handlersInside.fetch_add(1);
    char reason[] = "fatal signal 00";
    reason[sizeof(reason) - 3] = static_cast<char>('0' + sig / 10 % 10);
    reason[sizeof(reason) - 2] = static_cast<char>('0' + sig % 10);
    for (Entry& e : r.entries) {
      const FlightRecorder* rec = e.recorder.load();
      if (rec != nullptr && e.fatal.load()) rec->dump(reason);
    }
    r.handlersInside.fetch_sub(1);
  }
  chain(sig, info, context);
}

void onUsr1(int sig, siginfo_t* info, void* context) {
  Registry& r = registry();
  const int fd = r.pipeWrite.load();
  if (fd >= 0 && r.usr1Users.load() > 0) {
    const int saved = errno;
    const char byte = 'D';
    [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);
    errno = saved;
    return;
  }
  chain(sig, info, context);
}

void install(int sig, void (*handler)(int, siginfo_t*, void*)) {
  struct sigaction act = {};
  act.sa_sigaction = handler;
  act.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&act.sa_mask);
  sigaction(sig, &act, &registry().previous[sig]);
}

void watcherMain() {
  Registry& r = registry();
  while (true) {
    pollfd p{r.pipeRead, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;  // an idle wait: a signal or the stop byte ends it
    char byte = 0;
    if (::read(r.pipeRead, &byte, 1) != 1) continue;
    if (byte == 'Q') return;
    std::lock_guard<std::mutex> lock(r.mutex);
    for (Entry& e : r.entries) {
      const FlightRecorder* rec = e.recorder.load();
      if (rec != nullptr && e.usr1.load()) rec->dump("SIGUSR1");
    }
  }
}

// Under watcherMutex: the pipe (once), the handler (once), the thread.
void startWatcher(Registry& r) {
  if (r.pipeRead < 0) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      PLEXUS_WARN(subsys::kInit, "flight recorder: no pipe for SIGUSR1 dumps (errno %d)", errno);
      return;
    }
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    r.pipeRead = fds[0];
    r.pipeWrite.store(fds[1]);
  }
  if (!r.usr1Installed) {
    install(SIGUSR1, onUsr1);
    r.usr1Installed = true;
  }
  if (!r.watcher.joinable()) r.watcher = std::thread(watcherMain);
}

}  // namespace

void registerRecorder(const FlightRecorder* recorder, const DumpPolicy& policy) {
  if (!policy.onFatal && !policy.onUsr1) return;
  Registry& r = registry();
  std::lock_guard<std::mutex> watcherLock(r.watcherMutex);
  std::lock_guard<std::mutex> lock(r.mutex);
  for (Entry& e : r.entries) {
    if (e.recorder.load() != nullptr) continue;
    e.fatal.store(policy.onFatal);
    e.usr1.store(policy.onUsr1);
    e.recorder.store(recorder);
    if (policy.onFatal && !r.fatalInstalled) {
      for (int sig : kFatalSignals) install(sig, onFatalSignal);
      r.fatalInstalled = true;
    }
    if (policy.onUsr1 && r.usr1Users.fetch_add(1) == 0) startWatcher(r);
    return;
  }
  PLEXUS_WARN(subsys::kInit,
              "flight recorder: more than %d live communicators ask for signal-driven dumps; this "
              "one will not dump on a signal",
              kMaxRecorders);
}

void unregisterRecorder(const FlightRecorder* recorder) {
  Registry& r = registry();
  bool lastUsr1 = false;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    for (Entry& e : r.entries) {
      if (e.recorder.load() != recorder) continue;
      e.recorder.store(nullptr);
      if (e.usr1.load()) lastUsr1 = r.usr1Users.fetch_sub(1) == 1;
      e.fatal.store(false);
      e.usr1.store(false);
    }
  }
  // A fatal-signal handler on another thread may still read the recorder: wait it out (it ends
  // in the process's death, or returns within a dump's time).
  for (int i = 0; r.handlersInside.load() != 0 && i < 5000; ++i) {
    timespec ms{0, 1000 * 1000};
    nanosleep(&ms, nullptr);
  }
  if (!lastUsr1) return;
  std::lock_guard<std::mutex> watcherLock(r.watcherMutex);
  if (r.usr1Users.load() != 0 || !r.watcher.joinable()) return;
  const char byte = 'Q';
  while (::write(r.pipeWrite.load(), &byte, 1) < 0 && errno == EINTR) {
  }
  r.watcher.join();
}

}  // namespace plexus::runtime
