// The builders' request checks (build_common.hpp: validateRequest, domainsProblem): the one place
// in the algorithms layer that rejects a malformed BuildRequest, with messages that name the
// algorithm, the collective and the bad field.
#include <algorithm>
#include <cinttypes>
#include <limits>

#include "algorithms/build_common.hpp"
#include "algorithms/collective_spec.hpp"
#include "base/error.hpp"

namespace plexus::algo::detail {
namespace {

// True when `order` lists every rank of 0..n-1 exactly once.
bool isPermutation(const std::vector<int>& order, int n) {
  if (order.size() != static_cast<size_t>(n)) return false;
  std::vector<char> seen(static_cast<size_t>(n), 0);
  for (int x : order) {
    if (x < 0 || x >= n || seen[static_cast<size_t>(x)]) return false;
    seen[static_cast<size_t>(x)] = 1;
  }
  return true;
}

void checkSupported(const BuildRequest& r, const char* algorithm,
                    std::initializer_list<Collective> supported) {
  if (std::find(supported.begin(), supported.end(), r.collective) != supported.end()) return;
  std::string names;
  for (Collective c : supported)
    names += std::string(names.empty() ? "" : ", ") + collectiveName(c);
  throwError(ErrorCode::kInvalidArgument, "algorithm %s does not implement %s (it implements %s)",
             algorithm, collectiveName(r.collective), names.c_str());
}

// Ranks, channels, root and count: the fields every builder reads.
void checkShape(const BuildRequest& r, const char* algorithm, const char* coll) {
  if (r.nranks < 1 || r.nranks >= (1 << 24))
    throwError(ErrorCode::kInvalidArgument, "%s %s: nranks %d outside 1..2^24-1", algorithm, coll,
               r.nranks);
  if (r.rank < 0 || r.rank >= r.nranks) {
    throwError(ErrorCode::kInvalidArgument, "%s %s: rank %d outside 0..%d", algorithm, coll, r.rank,
               r.nranks - 1);
  }
  if (r.nchannels < 1 || r.nchannels > kMaxChannels) {
    throwError(ErrorCode::kInvalidArgument, "%s %s: nchannels %d outside 1..%d", algorithm, coll,
               r.nchannels, kMaxChannels);
  }
  if (rootedCollective(r.collective) && (r.root < 0 || r.root >= r.nranks)) {
    throwError(ErrorCode::kInvalidArgument, "%s %s: root %d outside 0..%d", algorithm, coll, r.root,
               r.nranks - 1);
  }
  if (r.count > std::numeric_limits<uint64_t>::max() / 4 / static_cast<uint64_t>(r.nranks)) {
    throwError(ErrorCode::kInvalidArgument, "%s %s: count %" PRIu64 " x %d ranks overflows",
               algorithm, coll, r.count, r.nranks);
  }
}

void checkRingOrders(const BuildRequest& r, const char* algorithm, const char* coll) {
  if (!r.rings.empty() && r.rings.size() != 1 &&
      r.rings.size() != static_cast<size_t>(r.nchannels)) {
    throwError(ErrorCode::kInvalidArgument,
               "%s %s: %zu ring orders given for %d channels (give 1 or one per channel)",
               algorithm, coll, r.rings.size(), r.nchannels);
  }
  for (size_t i = 0; i < r.rings.size(); ++i) {
    if (!isPermutation(r.rings[i], r.nranks)) {
      throwError(ErrorCode::kInvalidArgument, "%s %s: ring order %zu is not a permutation of 0..%d",
                 algorithm, coll, i, r.nranks - 1);
    }
  }
}

}  // namespace

std::string domainsProblem(const BuildRequest& r) {
  const auto& groups = r.groups;
  if (groups.empty()) {
    return "no domains given (BuildRequest::groups is empty: the communicator derives them from "
           "the cluster graph)";
  }
  const size_t g = groups[0].size();
  std::vector<char> seen(static_cast<size_t>(r.nranks), 0);
  size_t total = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].size() != g || g == 0) {
      return formatString(
          "domain %zu has %zu ranks but domain 0 has %zu; the hierarchical algorithm needs "
          "domains of equal size",
          i, groups[i].size(), g);
    }
    for (int x : groups[i]) {
      if (x < 0 || x >= r.nranks || seen[static_cast<size_t>(x)]) {
        return formatString("domain %zu lists rank %d, which is outside 0..%d or listed twice", i,
                            x, r.nranks - 1);
      }
      seen[static_cast<size_t>(x)] = 1;
      ++total;
    }
  }
  if (total != static_cast<size_t>(r.nranks))
    return formatString("the domains hold %zu ranks, the communicator has %d", total, r.nranks);
  return {};
}

void validateRequest(const BuildRequest& r, const char* algorithm,
                     std::initializer_list<Collective> supported, RequestUse use) {
  const char* coll = collectiveName(r.collective);
  checkSupported(r, algorithm, supported);
  checkShape(r, algorithm, coll);
  if (use.twoMessages && r.nranks > 1 && r.fifoElems == 1) {
    throwError(ErrorCode::kInvalidArgument,
               "%s %s: fifoElems %" PRIu64
               " is too small: a ring needs two messages in flight per connection (>= 2 elements)",
               algorithm, coll, r.fifoElems);
  }
  if (use.ringOrders) checkRingOrders(r, algorithm, coll);
  if (use.domains) {
    const std::string why = domainsProblem(r);
    if (!why.empty())
      throwError(ErrorCode::kInvalidArgument, "%s %s: %s", algorithm, coll, why.c_str());
  }
}

}  // namespace plexus::algo::detail
