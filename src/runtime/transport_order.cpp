// PLEXUS_TRANSPORTS: the transport names, their aliases and the order users ask for.
#include "runtime/transport_order.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

#include "base/env.hpp"
#include "base/error.hpp"

namespace plexus::runtime {

namespace {

// The transports Plexus ships (built in, then plugins), and other names users reach for.
constexpr const char* kShipped[] = {"shm", "tcp", "ibverbs", "ofi", "ucx"};
struct Alias {
  const char* name;
  const char* canonical;
};
constexpr Alias kAliases[] = {{"libfabric", "ofi"}, {"verbs", "ibverbs"}, {"ib", "ibverbs"}};

std::string canonicalName(const std::string& name) {
  for (const Alias& a : kAliases)
    if (name == a.name) return a.canonical;
  return name;
}

size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

bool isShippedTransport(const std::string& name) {
  return std::any_of(std::begin(kShipped), std::end(kShipped),
                     [&](const char* k) { return name == k; });
}

std::string transportSuggestion(const std::string& name) {
  std::string best;
  size_t bestDistance = 3;  // at most two edits, and fewer than the name is long
  auto consider = [&](const char* candidate, const char* canonical) {
    size_t d = editDistance(name, candidate);
    if (d < bestDistance && d < name.size()) {
      bestDistance = d;
      best = canonical;
    }
  };
  for (const char* k : kShipped) consider(k, k);
  for (const Alias& a : kAliases) consider(a.name, a.canonical);
  return best.empty() ? std::string() : " (did you mean " + best + "?)";
}

std::vector<std::string> transportOrderFromEnv() {
  // Default: shared memory on a host; RDMA (ibverbs) when its plugin finds a device; else tcp.
  const std::vector<std::string> known = {"shm", "ibverbs", "tcp"};
  std::vector<std::string> order = known;
  if (auto spec = envGet("TRANSPORTS")) {
    std::string s = *spec;
    bool exclude = !s.empty() && s[0] == '^';
    if (exclude) s.erase(0, 1);
    std::vector<std::string> names;
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t comma = s.find(',', pos);
      std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (!tok.empty()) {
        if (tok.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
          throwError(ErrorCode::kInvalidArgument,
                     "PLEXUS_TRANSPORTS: '%s' is not a transport name%s (%s)", tok.c_str(),
                     transportSuggestion(tok).c_str(), kValidTransportNames);
        tok = canonicalName(tok);
        if (std::find(names.begin(), names.end(), tok) == names.end()) names.push_back(tok);
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (exclude) {
      order.clear();
      for (const auto& k : known)
        if (std::find(names.begin(), names.end(), k) == names.end()) order.push_back(k);
    } else {
      order = names;
    }
  }
  if (envBool("SHM_DISABLE", false))
    order.erase(std::remove(order.begin(), order.end(), "shm"), order.end());
  if (order.empty())
    throwError(ErrorCode::kInvalidArgument,
               "PLEXUS_TRANSPORTS / PLEXUS_SHM_DISABLE leave no transport to use");
  return order;
}

}  // namespace plexus::runtime
