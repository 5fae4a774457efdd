// The fault matrix (docs/reliability.md, "Fault matrix"): one rank of three is SIGKILLed,
// SIGSTOPped (a hung peer) or has every socket it holds shut down (shutdown(2): the network
// vanishes under a live process) at init, in the middle of a collective or at teardown, on every
// transport of the list. The pieces the cases share: the board the ranks of one case share, the
// injection, and what a survivor checks in itself (descriptors and threads after destroy).
#pragma once

#include <atomic>
#include <cstdint>
#include <set>
#include <string>

namespace plexus::testing::faults {

enum class Fault { kKill, kStop, kClose };
enum class Phase { kInit, kMid, kTeardown };

const char* faultName(Fault f);
const char* phaseName(Phase p);

// Shared by the ranks of one case (anonymous shared memory, mapped before fork).
struct Board {
  std::atomic<int64_t> faultAtNs{0};  // steady clock when the victim was hit (0: not yet)
  std::atomic<int> victimPid{0};
  std::atomic<int> survivorsDone{0};
};

int64_t nowNs();
double secondsSince(int64_t ns);

// Hits this process with `f` (stamps the board first): SIGKILL, SIGSTOP, or shutdown(2) of every
// socket it holds (descriptors stay open, so nothing else in the process is confused by reuse).
void inject(Fault f, Board* board);
// Sockets among this process's descriptors.
int countSockets();

// True when a live process has `path` open or mapped (/proc/*/fd, /proc/*/maps).
bool heldByALiveProcess(const std::string& path);

// What a process holds: its open descriptors (number -> target) and its threads.
struct Holdings {
  std::set<std::string> fds;  // "N -> target"
  int threads = 0;
};
Holdings holdings();
// "" when `now` holds nothing that `before` did not, else what is new. Waits up to a few seconds
// for threads that are on their way out.
std::string leakedSince(const Holdings& before);

}  // namespace plexus::testing::faults
