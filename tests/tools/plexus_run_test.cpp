// End-to-end tests of plexus-run: the launcher is started as a child process with the helper
// program (plexus_run_helper.cpp) as its ranks; the tests check what it prints, its exit code,
// and that it stops, forwards signals to and times out its ranks.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The test's environment without the variables named in `drop`.
std::vector<std::string> environmentWithout(const std::vector<std::string>& drop) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (std::find(drop.begin(), drop.end(), name) == drop.end()) env.push_back(entry);
  }
  return env;
}

// plexus-run started with pipes on its stdout and stderr.
class Launcher {
 public:
  explicit Launcher(const std::vector<std::string>& args,
                    const std::vector<std::string>& env = environmentWithout({})) {
    int out[2], err[2];
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(err, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
    std::vector<std::string> argvStore = {PLEXUS_RUN_BIN};
    argvStore.insert(argvStore.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argvStore) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> envStore = env;
    for (auto& e : envStore) envp.push_back(e.data());
    envp.push_back(nullptr);
    start_ = Clock::now();
    EXPECT_EQ(posix_spawn(&pid_, PLEXUS_RUN_BIN, &fa, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    outFd_ = out[0];
    errFd_ = err[0];
  }
  ~Launcher() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
    if (outFd_ >= 0) close(outFd_);
    if (errFd_ >= 0) close(errFd_);
  }

  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

  // Reads output until `done(stdout)` holds or both pipes close; false on `limit`.
  bool readUntil(const std::function<bool(const std::string&)>& done,
                 std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto deadline = Clock::now() + limit;
    while (!done(out_)) {
      std::vector<pollfd> fds;
      if (outFd_ >= 0) fds.push_back({outFd_, POLLIN, 0});
      if (errFd_ >= 0) fds.push_back({errFd_, POLLIN, 0});
      if (fds.empty()) return done(out_);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      if (poll(fds.data(), fds.size(), static_cast<int>(left.count())) <= 0) continue;
      for (auto& p : fds) {
        if (p.revents == 0) continue;
        char buf[65536];
        ssize_t n = read(p.fd, buf, sizeof(buf));
        bool isOut = p.fd == outFd_;
        if (n > 0) {
          (isOut ? out_ : err_).append(buf, static_cast<size_t>(n));
        } else {
          close(p.fd);
          (isOut ? outFd_ : errFd_) = -1;
        }
      }
    }
    return true;
  }

  // Reads everything and waits for the exit; returns the exit code (-1 when it did not end).
  int finish(std::chrono::seconds limit = std::chrono::seconds(60)) {
    readUntil([](const std::string&) { return false; }, limit);
    auto deadline = Clock::now() + std::chrono::seconds(5);
    int st = 0;
    while (waitpid(pid_, &st, WNOHANG) == 0) {
      if (Clock::now() > deadline) return -1;
      usleep(10000);
    }
    waited_ = true;
    elapsed_ = Clock::now() - start_;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  double elapsedSeconds() const { return std::chrono::duration<double>(elapsed_).count(); }

 private:
  pid_t pid_ = -1;
  int outFd_ = -1, errFd_ = -1;
  bool waited_ = false;
  std::string out_, err_;
  Clock::time_point start_;
  Clock::duration elapsed_{};
};

std::vector<std::string> helper(std::vector<std::string> args) {
  args.insert(args.begin(), PLEXUS_RUN_HELPER);
  return args;
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(PlexusRun, RanksSeeDistinctRanksAndSharedJobVariables) {
  Launcher l(cat({"-n", "4"}, helper({"env"})),
             environmentWithout({"PLEXUS_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME"}));
  ASSERT_EQ(l.finish(), 0) << l.err();
  std::set<int> ranks;
  std::set<std::string> comms, secrets;
  for (const auto& line : splitLines(l.out())) {
    // "[r] rank=r size=4 local=r localsize=4 comm=127.0.0.1:<port> secret=<32 hex> ifname=lo ..."
    int prefix = -1, rank = -1, local = -1, port = -1, end = 0;
    char secret[33] = {0};
    ASSERT_EQ(std::sscanf(line.c_str(),
                          "[%d] rank=%d size=4 local=%d localsize=4 comm=127.0.0.1:%d "
                          "secret=%32[0-9a-f] ifname=lo foo=(unset)%n",
                          &prefix, &rank, &local, &port, secret, &end),
              5)
        << line;
    EXPECT_EQ(static_cast<size_t>(end), line.size()) << line;
    EXPECT_EQ(std::string(secret).size(), 32u);
    EXPECT_EQ(prefix, rank);
    EXPECT_EQ(rank, local);
    ranks.insert(rank);
    EXPECT_GT(port, 0);
    EXPECT_LT(port, 65536);
    comms.insert(std::to_string(port));
    secrets.insert(secret);
  }
  EXPECT_EQ(ranks, (std::set<int>{0, 1, 2, 3}));
  EXPECT_EQ(comms.size(), 1u);
  EXPECT_EQ(secrets.size(), 1u);
  EXPECT_EQ(l.err(), "");
}

TEST(PlexusRun, SecretDiffersBetweenJobs) {
  Launcher a(cat({"-n", "1"}, helper({"env"})));
  Launcher b(cat({"-n", "1"}, helper({"env"})));
  ASSERT_EQ(a.finish(), 0);
  ASSERT_EQ(b.finish(), 0);
  auto secretOf = [](const std::string& out) {
    size_t at = out.find("secret=");
    return at == std::string::npos ? std::string() : out.substr(at + 7, 32);
  };
  ASSERT_EQ(secretOf(a.out()).size(), 32u);
  ASSERT_EQ(secretOf(b.out()).size(), 32u);
  EXPECT_NE(secretOf(a.out()), secretOf(b.out()));
}

TEST(PlexusRun, PortExtraEnvironmentAndUserInterfaceChoice) {
  auto env = environmentWithout({"PLEXUS_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME"});
  env.push_back("PLEXUS_SOCKET_IFNAME=eth");
  Launcher l(cat({"-n", "2", "--port", "41234", "-x", "FOO=a=b c", "-x", "PLEXUS_RANK=99"},
                 helper({"env"})),
             env);
  ASSERT_EQ(l.finish(), 0) << l.err();
  auto lines = splitLines(l.out());
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) {
    EXPECT_NE(line.find("comm=127.0.0.1:41234 "), std::string::npos) << line;
    EXPECT_NE(line.find("ifname=eth "), std::string::npos) << line;
    EXPECT_NE(line.find("foo=a=b c"), std::string::npos) << line;
    EXPECT_EQ(line.find("rank=99"), std::string::npos) << "launcher variables win: " << line;
  }
}

TEST(PlexusRun, PrefixesEveryLineAndKeepsStdoutAndStderrApart) {
  // 3 ranks write 200 lines of 300 bytes each to both streams, 7 and 13 bytes per write():
  // every line must arrive whole, on the right stream, with the right prefix.
  const int kRanks = 3, kLines = 200, kLen = 300;
  Launcher l(cat({"-n", std::to_string(kRanks)},
                 helper({"lines", std::to_string(kLines), std::to_string(kLen)})));
  ASSERT_EQ(l.finish(), 0) << l.err();
  for (bool isErr : {false, true}) {
    std::map<int, int> next;  // per rank, the next line index expected
    auto lines = splitLines(isErr ? l.err() : l.out());
    ASSERT_EQ(lines.size(), static_cast<size_t>(kRanks * kLines));
    for (const auto& line : lines) {
      // "[r] " + ("E" on stderr) + "r<r> i<i> " + letters, kLen bytes after the prefix.
      int r = -1, r2 = -1, i = -1, bodyAt = 0;
      const char* fmt = isErr ? "[%d] Er%d i%d %n" : "[%d] r%d i%d %n";
      ASSERT_EQ(std::sscanf(line.c_str(), fmt, &r, &r2, &i, &bodyAt), 3) << line;
      EXPECT_EQ(r, r2);
      EXPECT_EQ(i, next[r]++) << "lines of one rank stay in order";
      std::string body = line.substr(static_cast<size_t>(bodyAt));
      EXPECT_EQ(body, std::string(body.size(), static_cast<char>('a' + (r + i) % 26))) << line;
      EXPECT_EQ(line.size() - line.find(']') - 2, static_cast<size_t>(kLen + (isErr ? 1 : 0)));
    }
  }
}

TEST(PlexusRun, FlushesPartialLastLines) {
  Launcher l(cat({"-n", "2"}, helper({"partial", "no newline here"})));
  ASSERT_EQ(l.finish(), 0);
  auto lines = splitLines(l.out());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"[0] no newline here", "[1] no newline here"}));
}

TEST(PlexusRun, NoPrefixPassesLinesThrough) {
  Launcher l(cat({"-n", "2", "--no-prefix"}, helper({"lines", "3", "20"})));
  ASSERT_EQ(l.finish(), 0);
  auto lines = splitLines(l.out());
  ASSERT_EQ(lines.size(), 6u);
  for (const auto& line : lines) EXPECT_EQ(line[0], 'r') << line;
  Launcher single(cat({"-n", "1", "--no-prefix"}, helper({"partial", "exact bytes"})));
  ASSERT_EQ(single.finish(), 0);
  EXPECT_EQ(single.out(), "exact bytes");
}

TEST(PlexusRun, ExitCodeOfTheFailingRank) {
  Launcher l(cat({"-n", "3"}, helper({"fail", "2", "7", "0"})));
  EXPECT_EQ(l.finish(), 7);
  EXPECT_NE(l.err().find("plexus-run: rank 2 (pid "), std::string::npos) << l.err();
  EXPECT_NE(l.err().find("exited with code 7"), std::string::npos) << l.err();
}

TEST(PlexusRun, RankKilledBySignalGives128PlusSignal) {
  Launcher l(cat({"-n", "2"}, helper({"exit-signal", std::to_string(SIGABRT)})));
  EXPECT_EQ(l.finish(), 128 + SIGABRT);
  EXPECT_NE(l.err().find("killed by signal 6 (SIGABRT)"), std::string::npos) << l.err();
}

TEST(PlexusRun, FailureStopsSleepingSiblingsQuickly) {
  // Rank 1 fails at once; ranks 0 and 2 would sleep 120 s. The launcher must stop them (SIGTERM)
  // long before that: the run ends without their "finished" line. The 60 s bound only tells a
  // stopped sibling from one that ran to the end.
  Launcher l(cat({"-n", "3", "--timeout", "100"}, helper({"fail", "1", "3", "120"})));
  EXPECT_EQ(l.finish(std::chrono::seconds(110)), 3);
  EXPECT_LT(l.elapsedSeconds(), 60.0);
  EXPECT_EQ(l.out().find("finished"), std::string::npos);
  EXPECT_NE(l.err().find("stopping the 2 other running ranks"), std::string::npos) << l.err();
}

TEST(PlexusRun, SiblingIgnoringSigtermIsKilledAfterGrace) {
  Launcher l(cat({"-n", "2", "--grace", "0.5"}, helper({"ignore-term", "120"})));
  ASSERT_TRUE(
      l.readUntil([](const std::string& o) { return std::count(o.begin(), o.end(), '\n') >= 2; }));
  std::vector<pid_t> pids;
  for (const auto& line : splitLines(l.out())) {
    auto at = line.find("pid=");
    ASSERT_NE(at, std::string::npos) << line;
    pids.push_back(std::stoi(line.substr(at + 4)));
  }
  // Kill rank 0 from outside: the launcher then stops rank 1, which ignores SIGTERM.
  ASSERT_EQ(kill(pids[0], SIGKILL), 0);
  EXPECT_EQ(l.finish(), 128 + SIGKILL);
  EXPECT_NE(l.err().find("grace period: sending SIGKILL"), std::string::npos) << l.err();
  EXPECT_EQ(l.out().find("finished"), std::string::npos);
  for (pid_t p : pids) EXPECT_NE(kill(p, 0), 0) << "rank process " << p << " left behind";
}

TEST(PlexusRun, ForwardsSighupToAllRanks) {
  Launcher l(cat({"-n", "3"}, helper({"wait-signal"})));
  ASSERT_TRUE(
      l.readUntil([](const std::string& o) { return std::count(o.begin(), o.end(), '\n') >= 3; }));
  ASSERT_EQ(kill(l.pid(), SIGHUP), 0);
  EXPECT_EQ(l.finish(), 0) << l.err();
  auto lines = splitLines(l.out());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"[0] got SIGHUP", "[0] ready", "[1] got SIGHUP",
                                             "[1] ready", "[2] got SIGHUP", "[2] ready"}));
}

TEST(PlexusRun, ForwardsSigtermAndReportsTheRankItKilled) {
  Launcher l(cat({"-n", "2"}, helper({"ready-sleep", "120"})));
  ASSERT_TRUE(
      l.readUntil([](const std::string& o) { return std::count(o.begin(), o.end(), '\n') >= 2; }));
  ASSERT_EQ(kill(l.pid(), SIGTERM), 0);
  EXPECT_EQ(l.finish(), 128 + SIGTERM);
  EXPECT_NE(l.err().find("killed by signal 15 (SIGTERM)"), std::string::npos) << l.err();
}

TEST(PlexusRun, TimeoutStopsEverythingWith124) {
  Launcher l(cat({"-n", "2", "--timeout", "0.5"}, helper({"ready-sleep", "120"})));
  EXPECT_EQ(l.finish(), 124);
  EXPECT_NE(l.err().find("timeout"), std::string::npos) << l.err();
  EXPECT_EQ(l.out().find("finished"), std::string::npos);
}

TEST(PlexusRun, MissingProgramGives127) {
  Launcher l({"-n", "2", "/nonexistent/plexus-program"});
  EXPECT_EQ(l.finish(), 127);
  EXPECT_NE(l.err().find("cannot start '/nonexistent/plexus-program'"), std::string::npos)
      << l.err();
}

TEST(PlexusRun, UsageErrors) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"-n", "0", "true"}, {"true"}, {"-n", "2"}, {"-n", "2", "-x", "1BAD=x", "true"}}) {
    Launcher l(args);
    EXPECT_EQ(l.finish(), 2) << args[0];
    EXPECT_NE(l.err(), "");
  }
}

TEST(PlexusRun, ProgramArgumentsAreNotParsedByTheLauncher) {
  Launcher l({"-n", "1", "sh", "-c", "echo \"$0 $1\"", "-n", "--timeout"});
  ASSERT_EQ(l.finish(), 0) << l.err();
  EXPECT_EQ(l.out(), "[0] -n --timeout\n");
}

// Issue 11 point 12: an unknown launcher option is a usage error, not a program to start.
TEST(PlexusRun, UnknownOptionIsAUsageError) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--bogus", "-n", "2", "true"}, {"-n", "2", "--bogus", "true"}}) {
    Launcher l(args);
    EXPECT_EQ(l.finish(), 2);
    EXPECT_NE(l.err().find("plexus-run: unknown option '--bogus'"), std::string::npos) << l.err();
    EXPECT_EQ(l.err().find("cannot start"), std::string::npos) << l.err();
    EXPECT_EQ(l.out(), "");
  }
}

TEST(PlexusRun, DoubleDashEndsLauncherOptions) {
  Launcher l({"-n", "1", "--", "sh", "-c", "echo ran"});
  ASSERT_EQ(l.finish(), 0) << l.err();
  EXPECT_EQ(l.out(), "[0] ran\n");
}

}  // namespace
