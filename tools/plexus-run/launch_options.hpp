// Command line of plexus-run: `plexus-run -n N [options] prog args...`. Parsed with CLI11; the
// first positional argument and everything after it is the program to start.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace plexus::run {

struct LaunchOptions {
  int nranks = 0;
  std::optional<uint16_t> port;  // bootstrap root port; default: a free one picked at start
  bool prefix = true;            // "[rank] " before each output line
  double graceSeconds = 5.0;     // SIGTERM -> SIGKILL delay when stopping ranks
  double timeoutSeconds = 0.0;   // 0: no timeout
  std::vector<std::pair<std::string, std::string>> extraEnv;  // -x VAR=value, in order
  std::vector<std::string> command;                           // program and its arguments
};

// Outcome of parsing: options to run, or an exit code (help printed, or a usage error printed
// to stderr) when the launcher should stop right away.
struct ParseOutcome {
  std::optional<LaunchOptions> options;
  int exitCode = 0;
};

// Parses argv. Prints --help or errors itself (to stdout / stderr).
ParseOutcome parseLaunchOptions(int argc, const char* const* argv);

// Splits "VAR=value" (or "VAR", which copies VAR from the launcher's environment) into a pair.
// nullopt for an invalid variable name.
std::optional<std::pair<std::string, std::string>> parseEnvAssignment(const std::string& text);

}  // namespace plexus::run
