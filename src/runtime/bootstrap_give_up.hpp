// A rank that gives up on a bootstrap call (a peer is gone, a timeout, an abort) tells the ranks
// that wait for it why before it closes its links, so that they fail at once naming the cause
// instead of at their own deadline, or naming only the rank that closed. Best effort throughout.
//
// Who waits for it, and where each of them reads:
// - ranks ahead (this rank connects to them) that are still accepting: a LinkHello with
//   kLinkGivesUp, on the link made to them or on a new connection (acceptLinks reads it);
// - ranks behind (they connect to this rank) in the exchange: a give-up frame where they expect
//   this rank's message (sendGivingUp, bootstrap_exchange.hpp), on the links accepted, and on
//   their connections still in this rank's listen backlog.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/deadline.hpp"
#include "runtime/bootstrap_links.hpp"

namespace plexus::runtime {

constexpr std::chrono::seconds kGivingUpWithin{2};

// Tells each rank ahead (`links[k]` to `ahead[k]`, but round `failed`) that this rank gives up and
// why (`reason`, which names what it lost): on the link already made to it (at once), or on a new
// connection (within kGivingUpWithin, and the deadline).
void tellGivingUp(const LinkSetup& s, const std::vector<LinkPeer>& ahead,
                  const std::vector<BootstrapLink>& links, size_t failed, const std::string& reason,
                  Deadline deadline);
// The same on the links already made only (never blocks).
void tellLinkedGivingUp(const LinkSetup& s, const std::vector<BootstrapLink>& links,
                        const std::string& reason);
// Accepts what waits in `listener`'s backlog (for up to 100 ms) and answers each connection that
// introduces itself as a link of this call with a give-up frame: ranks behind that linked to this
// rank before it started accepting.
void answerBacklogGivingUp(const LinkSetup& s, int listener, const std::string& reason);

}  // namespace plexus::runtime
