// Rail-matched ring orders over domains (hosts, NVLink domains): the order each channel's ring
// visits the ranks in, for ring and chain plans (BuildRequest::rings).
//
// Every ring visits the ranks of a domain together (one crossing per domain and ring, the fewest
// possible). Local rank i of a domain uses rail i (its NIC, its leaf of a rail-optimized
// network), so a crossing from local rank a of one domain to local rank b of the next stays on
// one rail only when a == b; otherwise it enters the next domain through the sender's rail and
// crosses that domain's PCIe / CPU to reach rank b, and channels pile up on one NIC. The rings
// here make every crossing rail-matched: channel c leaves domain h on rail x(h) = c + t(h) and
// enters domain h+1 on that rail, walking the domain from its entry rail to its exit rail.
//   - Even domain counts (boustrophedon): t(h) = -1 on even domains, 0 on odd ones, so even
//     domains are walked forward (c, c+1, .., c-1: channel c rotates them by c) and odd ones
//     backward from c-1 to c.
//   - Odd domain counts >= 3: as above, with the last two exit rails c+1 and c: domain H-2 is
//     walked from c-1 to c+1 and H-1 from c+1 to c (needs 3 or more ranks per domain).
// Where a domain would have to enter and leave on the same rail (two ranks per domain and an
// odd domain count; domains of different sizes), it is entered one rail over: that one crossing
// is not rail-matched. One domain: channel c rotates the ranks by c.
//
// For each domain the exit rails of channels 0..g-1 are a permutation of its rails, as are the
// entry rails, so channels spread evenly over the NICs in both directions.
#pragma once

#include <vector>

namespace plexus::algo {

// Ring orders for `nchannels` channels (at least one): rings[c] is a permutation of all ranks of
// `domains` (each domain its ranks in local order, rail = position).
std::vector<std::vector<int>> railMatchedRings(const std::vector<std::vector<int>>& domains,
                                               int nchannels);

// Crossings of `ring` from one domain to the next that leave and enter on different rails
// (local positions), for tests and reports. `domains` as for railMatchedRings.
int railMismatches(const std::vector<int>& ring, const std::vector<std::vector<int>>& domains);

}  // namespace plexus::algo
