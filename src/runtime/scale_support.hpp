// What a communicator of hundreds of ranks on one host needs beyond the small case: enough file
// descriptors (the soft RLIMIT_NOFILE raised to the hard limit when the world is large), and a
// one-line account of what a rank holds (peers connected, resident and shared memory, descriptors)
// for scripts/scale.sh and docs/scale.md.
#pragma once

#include <string>

namespace plexus::runtime {

// Descriptors a rank of `nranks` may need: a Unix socket and a FIFO per same-host peer and
// channel, bootstrap sockets, the process's own.
long fdsWanted(int nranks);

// Raises the soft RLIMIT_NOFILE to the hard limit when it is below fdsWanted(nranks), saying so in
// one INFO line (once per process); a hard limit still below is named in a WARN line.
void raiseFdLimitFor(int nranks);

// "peak rss X MiB (anon Y MiB, shm Z MiB), N fds" of this process from /proc/self.
std::string processResources();

}  // namespace plexus::runtime
