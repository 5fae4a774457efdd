// The merge of flight-recorder dumps (one JSON object per rank and communicator, as
// src/runtime/flight_recorder.cpp writes them) into one report per communicator: which ranks are
// stuck, the operation each is in (sequence number, collective, step), whom each waits for, the
// ranks whose dump is missing, and the suspects: the ranks the others wait for.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plexus::trace {

struct ChannelWait {
  int channel = 0;
  std::string what;  // "data from", "a free slot towards", ...
  int peer = -1;
};

struct Op {
  uint64_t id = 0;
  uint64_t seq = 0;
  std::string collective, algorithm, type, op, state;
  uint64_t count = 0;
  int64_t rootOrPeer = -1;
  int64_t stepsDone = 0, stepsTotal = 0;
  std::vector<ChannelWait> waits;  // what its channels wait for now
  int64_t startUs = 0, lastProgressUs = 0, endUs = 0;
};

struct Dump {
  std::string source;  // file it came from
  std::string host, comm, context, reason;
  int pid = 0, rank = 0, nranks = 0;
  int64_t dumpedUs = 0;
  std::vector<Op> ops;
  // The oldest operation that did not finish (nullptr: all finished).
  const Op* current() const;
};

// Dumps in a stream: a file holding one JSON object, or lines of a log among which the dumps are
// the lines that start with {"plexus_flight_recorder". Throws std::runtime_error naming `source`.
std::vector<Dump> readDumps(std::istream& in, const std::string& source);

struct Wait {
  int rank = 0;  // who waits
  int peer = 0;  // for whom
  std::string what;
};

struct Report {
  std::string comm;
  int nranks = 0;
  std::map<int, Dump> ranks;  // the earliest dump of each rank
  std::vector<int> missing;   // ranks without a dump
  std::vector<int> stuck;     // ranks in an operation that did not finish
  std::vector<Wait> waits;
  std::vector<int> suspects;  // most waited for first
};

// One report per communicator, by communicator id.
std::map<std::string, Report> merge(const std::vector<Dump>& dumps);

std::string formatText(const Report& r);
nlohmann::json toJson(const Report& r);

}  // namespace plexus::trace
