// Progress of a perf tool's sweep on stderr, for a person at a terminal: "[all_reduce_perf] sizes
// 12/18, 4.2 s elapsed, about 2.1 s left", rewritten in place with \r and cleared at the end.
// Nothing goes to stdout, so the nccl-tests table stays byte-for-byte what scripts parse.
//
// When: PLEXUS_PERF_PROGRESS=1 always (every size, whatever the run's length), =0 never; unset,
// only when stderr is a terminal and the run looks long: from 1 s in, once the estimate of the
// whole run passes 3 s (a short run prints nothing). The estimate weighs each size by its bytes
// plus 64 KiB (a small size costs about the latency of a 64 KiB one on loopback), and counts
// the time spent measuring sizes only (not init, not warm-ups).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace plexus::perf {

enum class ProgressMode { kAuto, kOff, kOn };

// PLEXUS_PERF_PROGRESS: unset or empty kAuto, 0 kOff, 1 kOn; anything else nullopt with `error`
// naming the variable, the value and what it takes.
std::optional<ProgressMode> progressModeFromEnv(std::string& error);

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  // `sizes`: the sweep's sizes, done `rounds` times (0: until stopped, no estimate).
  Progress(std::FILE* err, std::string prog, ProgressMode mode, const std::vector<size_t>& sizes,
           uint64_t rounds, std::function<Clock::time_point()> now = Clock::now);
  ~Progress();  // clears the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // The sizes of a round start now (after its warm-up): the estimate counts only the time between
  // this and the sizes done, so init and warm-ups do not inflate it.
  void roundStart();
  // One size of the sweep measured (the sweep repeats the sizes for each type, op and root).
  void sizeDone();
  // Clears the line if one was written.
  void finish();

  // The text of the line now ("" before any size); public for the tests.
  std::string line() const;

 private:
  std::FILE* err_;
  std::string prog_;
  ProgressMode mode_;
  std::vector<double> weights_;
  double roundWeight_ = 0;
  uint64_t total_;  // sizes in the whole run; 0: unbounded
  uint64_t done_ = 0;
  double doneWeight_ = 0;
  std::function<Clock::time_point()> now_;
  Clock::time_point start_;
  Clock::time_point mark_;  // roundStart or the last sizeDone
  double measured_ = 0;     // seconds spent on the sizes done
  Clock::time_point lastPrint_{};
  size_t written_ = 0;  // characters of the line on screen
};

}  // namespace plexus::perf
