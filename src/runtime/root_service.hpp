// The bootstrap root: accepts every rank once, checks the job secret, and tells each rank the
// listener addresses of the ranks 2^k ahead of and behind it (O(log N) work per rank beyond
// accepting). Runs on a thread owned
// by the process-wide RootRegistry (the documented registry of bootstrap roots), which joins it.
#pragma once

#include "base/socket.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::runtime {

// Starts a root serving one communicator on `listener` (already listening).
void startRoot(Fd listener, const Secret& secret, uint64_t nonce, const SocketAddress& address);

// Joins the roots that are done, waiting briefly for those that have answered every rank and are
// finishing. Called after a rank's bootstrap so no finished root thread outlives its use.
void reapRoots();

}  // namespace plexus::runtime
