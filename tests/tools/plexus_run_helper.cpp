// Plays one rank under plexus-run in tests/tools/plexus_run_test.cpp. The first argument picks
// what it does; every mode reads its rank from PLEXUS_RANK.
//   env                      print the launcher variables (and FOO) on one line
//   lines N LEN              print N lines of LEN characters to stdout and to stderr, each written
//                            in small pieces, so that ranks' writes interleave at the pipe level
//   partial TEXT             print TEXT without a newline and exit 0
//   fail RANK CODE SECONDS   rank RANK exits with CODE at once; the others sleep SECONDS, then
//                            print "finished" and exit 0
//   ready-sleep SECONDS      print "ready", sleep, print "finished"
//   wait-signal              print "ready", wait (at most 60 s) for SIGINT/SIGTERM/SIGHUP, print
//                            "got SIG<NAME>" and exit 0
//   ignore-term SECONDS      ignore SIGTERM, print "ready pid=<pid>", sleep, print "finished"
//   exit-signal SIGNO        kill itself with SIGNO
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

volatile sig_atomic_t gotSignal = 0;
extern "C" void onSignal(int sig) {
  gotSignal = sig;
}

int rank() {
  const char* r = std::getenv("PLEXUS_RANK");
  return r != nullptr ? std::atoi(r) : -1;
}

const char* envOr(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "(unset)";
}

void writeAll(int fd, const std::string& s, size_t piece) {
  for (size_t off = 0; off < s.size();) {
    size_t n = std::min(piece, s.size() - off);
    ssize_t w = ::write(fd, s.data() + off, n);
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

void say(const std::string& line) {
  writeAll(STDOUT_FILENO, line + "\n", line.size() + 1);
}

void sleepSeconds(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::string mode = argv[1];
  if (mode == "env") {
    std::printf("rank=%s size=%s local=%s localsize=%s comm=%s secret=%s ifname=%s foo=%s\n",
                envOr("PLEXUS_RANK"), envOr("PLEXUS_WORLD_SIZE"), envOr("PLEXUS_LOCAL_RANK"),
                envOr("PLEXUS_LOCAL_SIZE"), envOr("PLEXUS_COMM_ID"), envOr("PLEXUS_SECRET"),
                envOr("PLEXUS_SOCKET_IFNAME"), envOr("FOO"));
    return 0;
  }
  if (mode == "lines" && argc >= 4) {
    int n = std::atoi(argv[2]);
    size_t len = static_cast<size_t>(std::atoi(argv[3]));
    for (int i = 0; i < n; ++i) {
      std::string head = "r" + std::to_string(rank()) + " i" + std::to_string(i) + " ";
      std::string line = head + std::string(len > head.size() ? len - head.size() : 0,
                                            static_cast<char>('a' + (rank() + i) % 26));
      writeAll(STDOUT_FILENO, line + "\n", 7);
      writeAll(STDERR_FILENO, "E" + line + "\n", 13);
    }
    return 0;
  }
  if (mode == "partial" && argc >= 3) {
    writeAll(STDOUT_FILENO, argv[2], 1 << 20);
    return 0;
  }
  if (mode == "fail" && argc >= 5) {
    if (rank() == std::atoi(argv[2])) return std::atoi(argv[3]);
    sleepSeconds(std::atof(argv[4]));
    say("finished");
    return 0;
  }
  if (mode == "ready-sleep" && argc >= 3) {
    say("ready");
    sleepSeconds(std::atof(argv[2]));
    say("finished");
    return 0;
  }
  if (mode == "wait-signal") {
    struct sigaction sa {};
    sa.sa_handler = onSignal;
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);
    say("ready");
    for (int i = 0; i < 6000 && gotSignal == 0; ++i) sleepSeconds(0.01);
    if (gotSignal == 0) return 3;
    say(std::string("got SIG") + sigabbrev_np(gotSignal));
    return 0;
  }
  if (mode == "ignore-term" && argc >= 3) {
    signal(SIGTERM, SIG_IGN);
    say("ready pid=" + std::to_string(getpid()));
    sleepSeconds(std::atof(argv[2]));
    say("finished");
    return 0;
  }
  if (mode == "exit-signal" && argc >= 3) {
    int sig = std::atoi(argv[2]);
    signal(sig, SIG_DFL);
    raise(sig);
    return 4;
  }
  return 2;
}
