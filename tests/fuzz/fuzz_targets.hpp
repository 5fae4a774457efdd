// The fuzz targets (docs/reliability.md, "Fuzzing and hostile input"): one entry point per kind of
// input that comes from outside the process. libfuzzer_main.cpp wraps one of them for libFuzzer
// (the clang build of scripts/fuzz.sh); corpus_replay_test.cpp feeds every file of
// tests/fuzz/corpus/<name>/ to all of them in the regular build, so found crashes stay fixed.
//
// Each entry returns 0. Input the library refuses must end in plexus::Error (or a parser's own
// "no" answer); any other exception, a crash, a sanitizer report or a broken invariant (abort())
// is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace plexus::fuzz {

using Entry = int (*)(const uint8_t* data, size_t size);

struct Target {
  const char* name;  // the corpus folder and the fuzzer's name (fuzz_<name>)
  Entry entry;
};

int bootstrapRoot(const uint8_t* data, size_t size);  // what the root reads from a connection
int bootstrapPeer(const uint8_t* data, size_t size);  // root reply, link hello, all-gather stream
int uniqueId(const uint8_t* data, size_t size);       // the 128-byte ncclUniqueId
int ncclXml(const uint8_t* data, size_t size);        // NCCL topology XML
int topologyJson(const uint8_t* data, size_t size);   // Plexus topology JSON
int planFile(const uint8_t* data, size_t size);       // plan files, verified as at load
int envVars(const uint8_t* data, size_t size);        // every environment variable parser
int perfOptions(const uint8_t* data, size_t size);    // the perf tools' command line

std::span<const Target> targets();

// Stops the fuzzer with a message when an invariant of a parser's answer does not hold.
[[noreturn]] void broken(const char* what);

}  // namespace plexus::fuzz
