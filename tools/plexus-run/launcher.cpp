// plexus-run's process management: spawn (fork + exec, each rank in its own process group),
// one poll loop for output, signals (signalfd) and deadlines, and orderly stop on failure.
#include "launcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <optional>

#include "base/socket.hpp"
#include "line_splitter.hpp"

namespace plexus::run {
namespace {

using Clock = std::chrono::steady_clock;

// After the last rank exits, output still in flight (or held by a rank's own children that keep
// the pipe open) is forwarded for at most this long.
constexpr auto kDrainTime = std::chrono::milliseconds(1000);
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP};

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g s", s);
  return buf;
}

std::string signalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// Writes to the launcher's stdout or stderr. A closed reader (EPIPE, e.g. `| head`) turns the
// sink off; the ranks' output is then read and dropped so that they never block on a full pipe.
class Sink {
 public:
  explicit Sink(int fd) : fd_(fd) {}
  void write(std::string_view data) {
    while (!broken_ && !data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n >= 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{fd_, POLLOUT, 0};
        (void)::poll(&p, 1, 1000);
      } else if (errno != EINTR) {
        broken_ = true;
      }
    }
  }

 private:
  int fd_;
  bool broken_ = false;
};

struct Stream {
  Fd fd;
  LineSplitter splitter{""};
  Sink* sink = nullptr;
};

struct RankProcess {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  Stream out;
  Stream err;
};

// Blocks the signals the loop handles through a signalfd, and ignores SIGPIPE; restores both.
class SignalScope {
 public:
  SignalScope() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : kForwardedSignals) sigaddset(&set, s);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &saved_);
    fd_ = Fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &savedPipe_);
  }
  ~SignalScope() {
    fd_.reset();
    sigaction(SIGPIPE, &savedPipe_, nullptr);
    sigprocmask(SIG_SETMASK, &saved_, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
  int fd() const { return fd_.get(); }

 private:
  sigset_t saved_{};
  struct sigaction savedPipe_ {};
  Fd fd_;
};

class Job {
 public:
  Job(const LaunchOptions& options, const JobIdentity& identity,
      const std::vector<std::string>& baseEnv)
      : options_(options), identity_(identity), baseEnv_(baseEnv) {}

  int run();

 private:
  bool spawn(RankProcess& proc);
  void message(const std::string& text) { stderr_.write("plexus-run: " + text + "\n"); }
  void handleSignals();
  void reap();
  void onExit(RankProcess& proc, int status);
  void stopAll(const Clock::time_point& now);
  void signalRunning(int sig);
  int runningCount() const;
  bool readStream(Stream& s);  // false at end of stream
  void drainRank(RankProcess& proc);
  void closeStream(Stream& s);

  const LaunchOptions& options_;
  const JobIdentity& identity_;
  const std::vector<std::string>& baseEnv_;
  Sink stdout_{STDOUT_FILENO};
  Sink stderr_{STDERR_FILENO};
  std::vector<RankProcess> ranks_;
  std::optional<SignalScope> signals_;
  Fd devNull_;
  std::optional<int> exitCode_;
  bool stopping_ = false;
  int interrupts_ = 0;
  std::optional<Clock::time_point> timeoutAt_, killAt_, drainUntil_;
};

int Job::runningCount() const {
  return static_cast<int>(
      std::count_if(ranks_.begin(), ranks_.end(), [](const RankProcess& p) { return p.running; }));
}

void Job::signalRunning(int sig) {
  for (RankProcess& p : ranks_)
    if (p.running) ::kill(-p.pid, sig);  // the whole process group of the rank
}

void Job::stopAll(const Clock::time_point& now) {
  if (stopping_) return;
  stopping_ = true;
  signalRunning(SIGTERM);
  killAt_ = now + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(options_.graceSeconds));
}

bool Job::spawn(RankProcess& proc) {
  int outPipe[2], errPipe[2], execPipe[2];
  if (pipe2(outPipe, O_CLOEXEC) != 0 || pipe2(errPipe, O_CLOEXEC) != 0 ||
      pipe2(execPipe, O_CLOEXEC) != 0) {
    message(std::string("cannot create pipes: ") + strerror(errno));
    exitCode_ = kExitLauncherError;
    return false;
  }
  Fd outR(outPipe[0]), outW(outPipe[1]), errR(errPipe[0]), errW(errPipe[1]);
  Fd execR(execPipe[0]), execW(execPipe[1]);

  std::vector<std::string> env = rankEnvironment(baseEnv_, options_, identity_, proc.rank);
  std::vector<char*> envp, argv;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options_.command;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    message(std::string("fork failed: ") + strerror(errno));
    exitCode_ = kExitLauncherError;
    return false;
  }
  if (pid == 0) {
    // Child: own process group, dies with the launcher, default signal state, pipes as 1 and 2.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(kExitLauncherError);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE}) signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (dup2(devNull_.get(), STDIN_FILENO) < 0 || dup2(outW.get(), STDOUT_FILENO) < 0 ||
        dup2(errW.get(), STDERR_FILENO) < 0)
      _exit(kExitLauncherError);
    execvpe(argv[0], argv.data(), envp.data());
    int e = errno;
    ssize_t ignored = ::write(execW.get(), &e, sizeof(e));
    (void)ignored;
    _exit(e == ENOENT ? kExitNotFound : kExitCannotExecute);
  }
  setpgid(pid, pid);  // also from the parent, so that it holds before any signal we send
  proc.pid = pid;
  proc.running = true;
  outW.reset();
  errW.reset();
  execW.reset();
  int childErrno = 0;
  ssize_t got;
  do {
    got = ::read(execR.get(), &childErrno, sizeof(childErrno));
  } while (got < 0 && errno == EINTR);
  setNonBlocking(outR.get(), true);
  setNonBlocking(errR.get(), true);
  std::string prefix = options_.prefix ? "[" + std::to_string(proc.rank) + "] " : "";
  // Unfinished last lines get a newline unless a single rank runs unprefixed (then its output
  // passes through byte for byte).
  bool terminate = options_.prefix || options_.nranks > 1;
  proc.out = Stream{std::move(outR), LineSplitter(prefix, terminate), &stdout_};
  proc.err = Stream{std::move(errR), LineSplitter(prefix, terminate), &stderr_};
  if (got == static_cast<ssize_t>(sizeof(childErrno))) {
    message("cannot start '" + options_.command[0] + "' for rank " + std::to_string(proc.rank) +
            ": " + strerror(childErrno));
    exitCode_ = childErrno == ENOENT ? kExitNotFound : kExitCannotExecute;
    return false;
  }
  return true;
}

void Job::closeStream(Stream& s) {
  if (!s.fd) return;
  std::string out;
  s.splitter.finish(out);
  s.sink->write(out);
  s.fd.reset();
}

bool Job::readStream(Stream& s) {
  char buf[kReadChunk];
  ssize_t n = ::read(s.fd.get(), buf, sizeof(buf));
  if (n > 0) {
    std::string out;
    s.splitter.feed(std::string_view(buf, static_cast<size_t>(n)), out);
    if (!out.empty()) s.sink->write(out);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  closeStream(s);
  return false;
}

void Job::drainRank(RankProcess& proc) {
  // Forward what the rank wrote before it exited, so that its last lines come before the
  // launcher's report about it. Bounded: the pipe holds at most its capacity, plus whatever a
  // child of the rank keeps writing, which we stop reading after a few chunks.
  for (Stream* s : {&proc.out, &proc.err}) {
    for (int i = 0; i < 64 && s->fd; ++i) {
      pollfd p{s->fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
      if (!readStream(*s)) break;
    }
  }
}

void Job::onExit(RankProcess& proc, int status) {
  proc.running = false;
  int code = 0;
  std::string how;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
    how = "exited with code " + std::to_string(code);
  } else if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    code = 128 + sig;
    how = "was killed by signal " + std::to_string(sig) + " (" + signalName(sig) + ")";
    if (WCOREDUMP(status)) how += ", core dumped";
  }
  if (code == 0 || exitCode_) return;  // success, or the job is already failing
  drainRank(proc);
  exitCode_ = code;
  int others = runningCount();
  message("rank " + std::to_string(proc.rank) + " (pid " + std::to_string(proc.pid) + ") " + how +
          (others > 0 ? "; stopping the " + std::to_string(others) + " other running rank" +
                            (others > 1 ? "s" : "")
                      : ""));
  stopAll(Clock::now());
}

void Job::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;  // 0: none left to reap now; -1: ECHILD
    for (RankProcess& p : ranks_)
      if (p.pid == pid && p.running) onExit(p, status);
  }
}

void Job::handleSignals() {
  signalfd_siginfo info;
  while (::read(signals_->fd(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) continue;  // reaped below in any case
    if (runningCount() == 0) continue;
    if (sig == SIGHUP) {
      signalRunning(sig);
      continue;
    }
    if (++interrupts_ >= 2) {
      message("second " + signalName(sig) + ": killing all ranks");
      signalRunning(SIGKILL);
    } else {
      signalRunning(sig);
    }
  }
  reap();
}

int Job::run() {
  devNull_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  signals_.emplace();
  if (!devNull_ || signals_->fd() < 0) {
    message(std::string("cannot set up signals or /dev/null: ") + strerror(errno));
    return kExitLauncherError;
  }
  ranks_.resize(static_cast<size_t>(options_.nranks));
  for (int r = 0; r < options_.nranks; ++r) ranks_[static_cast<size_t>(r)].rank = r;

  const Clock::time_point start = Clock::now();
  if (options_.timeoutSeconds > 0)
    timeoutAt_ = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(options_.timeoutSeconds));
  for (RankProcess& p : ranks_) {
    if (!spawn(p)) {
      stopAll(Clock::now());
      break;
    }
  }

  std::vector<pollfd> fds;
  std::vector<Stream*> streams;
  for (;;) {
    Clock::time_point now = Clock::now();
    int running = runningCount();
    streams.clear();
    for (RankProcess& p : ranks_)
      for (Stream* s : {&p.out, &p.err})
        if (s->fd) streams.push_back(s);
    if (running == 0) {
      if (streams.empty()) break;
      if (!drainUntil_) drainUntil_ = now + kDrainTime;
      if (now >= *drainUntil_) break;
    }
    if (timeoutAt_ && now >= *timeoutAt_ && running > 0) {
      timeoutAt_.reset();
      if (!exitCode_) {
        exitCode_ = kExitTimeout;
        message("timeout: the job ran longer than " + seconds(options_.timeoutSeconds) +
                "; stopping the " + std::to_string(running) + " running rank" +
                (running > 1 ? "s" : ""));
      }
      stopAll(now);
    }
    if (killAt_ && now >= *killAt_) {
      killAt_.reset();
      if (running > 0) {
        message("rank" + std::string(running > 1 ? "s" : "") + " still running after the " +
                seconds(options_.graceSeconds) + " grace period: sending SIGKILL");
        signalRunning(SIGKILL);
      }
    }

    // Sleep until output, a signal, or the next deadline (at most 1 s, so every wait is bounded).
    Clock::time_point wake = now + std::chrono::seconds(1);
    for (const auto& d : {timeoutAt_, killAt_, drainUntil_})
      if (d) wake = std::min(wake, *d);
    auto waitMs = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
    fds.clear();
    fds.push_back(pollfd{signals_->fd(), POLLIN, 0});
    for (Stream* s : streams) fds.push_back(pollfd{s->fd.get(), POLLIN, 0});
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(waitMs, 0)));
    if (ready < 0 && errno != EINTR) {
      message(std::string("poll failed: ") + strerror(errno));
      if (!exitCode_) exitCode_ = kExitLauncherError;
      stopAll(now);
      signalRunning(SIGKILL);
      break;
    }
    if (ready <= 0) continue;
    for (size_t i = 1; i < fds.size(); ++i)
      if (fds[i].revents != 0 && streams[i - 1]->fd) readStream(*streams[i - 1]);
    if (fds[0].revents != 0) handleSignals();
  }

  // Leave nothing behind: kill ranks still running (only after a poll failure) and reap them.
  for (RankProcess& p : ranks_) {
    if (p.running) {
      ::kill(-p.pid, SIGKILL);
      int status = 0;
      while (waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
      }
      p.running = false;
    }
    closeStream(p.out);
    closeStream(p.err);
  }
  signals_.reset();
  return exitCode_.value_or(0);
}

}  // namespace

int runJob(const LaunchOptions& options, const JobIdentity& job,
           const std::vector<std::string>& baseEnvironment) {
  Job j(options, job, baseEnvironment);
  return j.run();
}

}  // namespace plexus::run
