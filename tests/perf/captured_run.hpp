// Runs the perf driver in this process with its standard output and error captured, for the perf
// tests that check what it prints.
#pragma once

#include <cstdio>
#include <string>

#include "common/collectives.hpp"
#include "common/options.hpp"
#include "common/runner.hpp"

namespace plexus::perf {

struct RunResult {
  int code = -1;
  std::string out, err;
};

// Reads a temporary file from its start, then closes it.
inline std::string readAndClose(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

// A short sweep on host buffers: 8 B to 64 KiB by x8, 2 timed calls after 1 warm-up.
inline Options smallHostSweep() {
  Options o;
  o.minBytes = 8;
  o.maxBytes = 64 << 10;
  o.stepFactor = 8;
  o.iters = 2;
  o.warmupIters = 1;
  o.buffers = BufferKind::kHost;
  return o;
}

inline RunResult runCaptured(const Collective& coll, const Options& o,
                             const ProcessPlacement& where) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  RunResult r;
  r.code = runPerf(coll, o, where, out, err);
  r.out = readAndClose(out);
  r.err = readAndClose(err);
  return r;
}

}  // namespace plexus::perf
