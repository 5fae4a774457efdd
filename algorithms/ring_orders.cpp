// Rail-matched ring orders (ring_orders.hpp).
#include "algorithms/ring_orders.hpp"

#include <algorithm>
#include <cstddef>

namespace plexus::algo {
namespace {

int mod(int a, int g) {
  return ((a % g) + g) % g;
}

// Exit-rail offsets t(h) from the channel's rail (before reduction modulo a domain's size).
std::vector<int> exitOffsets(int domains) {
  std::vector<int> t(static_cast<size_t>(domains));
  for (int h = 0; h < domains; ++h) t[static_cast<size_t>(h)] = h % 2 == 0 ? -1 : 0;
  if (domains % 2 == 1 && domains >= 3) {
    t[static_cast<size_t>(domains - 2)] = 1;
    t[static_cast<size_t>(domains - 1)] = 0;
  }
  return t;
}

// Appends the ranks of one domain from local position e to local position x (e != x unless the
// domain has one rank): backward when x is the position after e, else forward, skipping x.
void walk(const std::vector<int>& ranks, int e, int x, std::vector<int>& out) {
  const int g = static_cast<int>(ranks.size());
  out.push_back(ranks[static_cast<size_t>(e)]);
  if (g == 1) return;
  const int step = mod(x - e, g) == 1 && g > 2 ? -1 : 1;
  int p = e;
  for (int k = 0; k < g - 2;) {
    p = mod(p + step, g);
    if (p == x) continue;
    out.push_back(ranks[static_cast<size_t>(p)]);
    ++k;
  }
  out.push_back(ranks[static_cast<size_t>(x)]);
}

}  // namespace

std::vector<std::vector<int>> railMatchedRings(const std::vector<std::vector<int>>& domains,
                                               int nchannels) {
  const int nd = static_cast<int>(domains.size());
  const std::vector<int> t = exitOffsets(nd);
  std::vector<std::vector<int>> rings;
  for (int c = 0; c < std::max(1, nchannels); ++c) {
    std::vector<int> ring;
    for (int h = 0; h < nd; ++h) {
      const std::vector<int>& d = domains[static_cast<size_t>(h)];
      const int g = static_cast<int>(d.size());
      if (g == 0) continue;
      if (nd == 1) {  // one domain: rotate by c
        walk(d, mod(c, g), mod(c - 1, g), ring);
        continue;
      }
      const int x = mod(c + t[static_cast<size_t>(h)], g);
      int e = mod(c + t[static_cast<size_t>(mod(h - 1, nd))], g);
      if (g > 1 && e == x) e = mod(x + 1, g);  // no rail-matched entry: this crossing changes rail
      walk(d, e, x, ring);
    }
    rings.push_back(std::move(ring));
  }
  return rings;
}

int railMismatches(const std::vector<int>& ring, const std::vector<std::vector<int>>& domains) {
  int maxRank = 0;
  for (const auto& d : domains) {
    for (int r : d) maxRank = std::max(maxRank, r);
  }
  std::vector<int> domainOf(static_cast<size_t>(maxRank) + 1, -1), posOf(domainOf.size(), -1);
  for (size_t h = 0; h < domains.size(); ++h) {
    for (size_t i = 0; i < domains[h].size(); ++i) {
      domainOf[static_cast<size_t>(domains[h][i])] = static_cast<int>(h);
      posOf[static_cast<size_t>(domains[h][i])] = static_cast<int>(i);
    }
  }
  int out = 0;
  for (size_t i = 0; i < ring.size(); ++i) {
    const auto a = static_cast<size_t>(ring[i]),
               b = static_cast<size_t>(ring[(i + 1) % ring.size()]);
    if (domainOf[a] != domainOf[b] && posOf[a] != posOf[b]) ++out;
  }
  return out;
}

}  // namespace plexus::algo
