// The launcher proper: starts the ranks, forwards their output line by line with the rank
// prefix, forwards SIGINT/SIGTERM/SIGHUP to them, and stops them all on the first failure or on
// timeout. Single-threaded: one poll loop over the ranks' pipes and a signalfd, so there are no
// threads to join and lines are written whole by one writer.
#pragma once

#include <string>
#include <vector>

#include "launch_options.hpp"
#include "rank_environment.hpp"

namespace plexus::run {

// Exit codes besides a failed rank's own code.
inline constexpr int kExitTimeout = 124;        // --timeout expired (as timeout(1))
inline constexpr int kExitCannotExecute = 126;  // program found but not executable
inline constexpr int kExitNotFound = 127;       // program not found
inline constexpr int kExitLauncherError = 1;    // plexus-run itself failed (pipes, fork, ...)

// Runs the job to completion and returns plexus-run's exit code: 0 when every rank exits 0;
// otherwise the code of the first rank that failed (128+signal when a signal killed it), 124
// after --timeout, 126/127 when the program cannot be started.
int runJob(const LaunchOptions& options, const JobIdentity& job,
           const std::vector<std::string>& baseEnvironment);

}  // namespace plexus::run
