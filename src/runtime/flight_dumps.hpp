// The process-wide registry of live flight recorders (global state, the only one of the flight
// recorder): the dumps that no communicator asks for itself, on a fatal signal and on SIGUSR1,
// reach every live recorder through it.
//
// - The registry: a fixed array of atomic pointers (kMaxRecorders), so that a signal handler can
//   read it without a lock; add and remove take a mutex. remove() clears the slot, then waits
//   until no fatal-signal handler is reading it (that handler ends in the process's death).
// - Fatal signals (PLEXUS_DUMP_ON=fatal): handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT
//   and SIGTERM, installed at the first registration that asks for them and left installed. They
//   dump each recorder that asked (the async-signal-safe writer of flight_recorder.hpp), then
//   chain: they call the handler that was installed before, or restore the default action and
//   raise the signal again. Without such a recorder they only chain.
// - SIGUSR1 (PLEXUS_DUMP_ON=usr1): the handler writes a byte to a pipe (made once, kept for the
//   life of the process); a watcher thread reads it and dumps the recorders that asked, outside
//   signal context. The registry owns the watcher: it starts with the first recorder that asks for
//   usr1 and is joined when the last one is removed. With no such recorder SIGUSR1 is chained to
//   the handler installed before (by default it terminates the process).
#pragma once

#include "runtime/flight_recorder.hpp"

namespace plexus::runtime {

constexpr int kMaxRecorders = 1024;

// Adds a recorder for the signal-driven dumps its policy asks for (fatal, usr1); nothing when it
// asks for neither. A recorder must be removed before it is destroyed.
void registerRecorder(const FlightRecorder* recorder, const DumpPolicy& policy);
void unregisterRecorder(const FlightRecorder* recorder);

}  // namespace plexus::runtime
