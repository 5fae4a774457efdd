// When a communicator's flight recorder is dumped (PLEXUS_DUMP_ON): parsed apart from the recorder
// so that the env fuzzer (tests/fuzz) reaches it without the runtime.
#pragma once

#include <string>

namespace plexus::runtime {

// PLEXUS_DUMP_ON: a comma list of error (any failure of the communicator: timeout, lost peer, a
// peer's failure notice), timeout (only the PLEXUS_TIMEOUT stall), abort (ncclCommAbort,
// ncclCommRevoke, Communicator::abort), fatal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM:
// a handler dumps, then chains to the handler before it), usr1 (SIGUSR1 asks every live
// communicator of the process to dump); "all", "none". Default: error.
struct DumpPolicy {
  bool onError = true;
  bool onTimeout = true;
  bool onAbort = false;
  bool onFatal = false;
  bool onUsr1 = false;
  static DumpPolicy parse(const std::string& text);  // throws Error(kInvalidArgument)
  static DumpPolicy fromEnv();
};

}  // namespace plexus::runtime
