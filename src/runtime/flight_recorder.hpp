// The flight recorder: each communicator keeps its last N operations
// (PLEXUS_FLIGHT_RECORDER_ENTRIES) in a fixed ring: sequence number, collective, algorithm, count,
// type, op, root or peer, how far the plan got (the engine updates that, engine/work.hpp OpTrace),
// what the op waits for, start, last-progress and end times, and state. Recording an operation
// writes a dozen relaxed atomics and reads the coarse clock: no allocation, no lock.
//
// A dump writes the ring as one line of JSON to PLEXUS_DUMP_DIR/plexus-fr-HOST-PID-rRANK-COMM.json
// (written under a temporary name, then renamed) or, without PLEXUS_DUMP_DIR, to stderr. When to
// dump is PLEXUS_DUMP_ON (DumpPolicy). The writer uses only open/write/rename/close and text
// formatted by hand into a stack buffer, so a fatal-signal handler may call it
// (runtime/flight_dumps.hpp). `plexus-trace` merges the dumps of all ranks.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/work.hpp"
#include "runtime/dump_policy.hpp"
#include "runtime/op_args.hpp"

namespace plexus::runtime {

struct RecorderIdentity {
  std::string host;
  int pid = 0;
  int rank = 0;
  int nranks = 1;
  uint64_t commId = 0;
  std::string context;  // "rank 2 of 8, comm 1f2e3a4b"
};

class FlightRecorder {
 public:
  // `entries` slots (at least 1); `dumpDir` empty: dumps go to stderr.
  FlightRecorder(size_t entries, RecorderIdentity identity, std::string dumpDir);
  ~FlightRecorder();
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;

  // Takes the next slot for a call about to be queued; the engine updates it through the ref.
  engine::TraceRef record(const OpArgs& args, const char* algorithm, uint32_t stepsTotal);
  // The engine's sequence number of the operation (assigned when it was queued).
  static void setSeq(const engine::TraceRef& ref, uint32_t seq);
  // The operation ran zero copy (single_copy.hpp) instead of the plan it was recorded with: named
  // "zerocopy", no steps.
  static void ranZeroCopy(const engine::TraceRef& ref);

  // Writes the ring as one JSON line to `fd` (async-signal-safe). False if a write failed.
  bool writeJson(int fd, const char* reason) const;
  // Dumps to the file named above or stderr (async-signal-safe); `reason` says why.
  void dump(const char* reason) const;
  const std::string& dumpPath() const { return path_; }  // "" for stderr

 private:
  struct Slot;
  static void storeAlgorithm(Slot& s, const char* algorithm);  // up to 24 characters kept
  void dumpUnlocked(const char* reason) const;
  size_t entries_;
  mutable std::atomic<bool> dumping_{false};
  std::unique_ptr<Slot[]> ring_;
  std::atomic<uint32_t> next_{0};
  RecorderIdentity identity_;
  std::string header_;  // the JSON fields naming this rank, formatted once
  std::string path_, tmpPath_;
};

}  // namespace plexus::runtime
