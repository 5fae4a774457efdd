// plexus-run entry point: parse the command line, pick the job's bootstrap address and secret,
// run the ranks. See launcher.hpp for the behaviour and exit codes.
#include <cstdio>

#include "base/error.hpp"
#include "launch_options.hpp"
#include "launcher.hpp"
#include "rank_environment.hpp"

int main(int argc, char** argv) {
  using namespace plexus::run;
  ParseOutcome parsed = parseLaunchOptions(argc, argv);
  if (!parsed.options) return parsed.exitCode;
  try {
    JobIdentity job = makeJobIdentity(parsed.options->port);
    return runJob(*parsed.options, job, currentEnvironment());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plexus-run: %s\n", e.what());
    return kExitLauncherError;
  }
}
