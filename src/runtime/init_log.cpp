// The INFO lines of communicator init (init_log.hpp).
#include "runtime/init_log.hpp"

#include <cinttypes>

#include "algorithms/builders.hpp"
#include "base/log.hpp"
#include "runtime/build_info.hpp"

namespace plexus::runtime {
namespace {

std::string joined(const std::vector<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s.empty() ? "-" : s;
}

}  // namespace

std::string compactOrder(const std::vector<int>& order) {
  std::string s;
  const size_t n = order.size();
  const size_t limit = static_cast<size_t>(kRingPrintRanks);
  for (size_t i = 0; i < n; ++i) {
    if (n > limit && i == limit - 2) {
      s += " ...";
      i = n - 2;  // the last rank closes the ring
      continue;
    }
    s += (s.empty() ? "" : " ") + std::to_string(order[i]);
  }
  return s;
}

void logInitStart(const InitIdentity& who) {
  if (!logEnabled(LogLevel::kInfo, subsys::kInit)) return;
  PLEXUS_INFO(subsys::kInit, "%s", buildDescription());
  PLEXUS_INFO(subsys::kInit,
              "comm %p rank %d nranks %d host %s pid %d commId 0x%016" PRIx64 " - Init START",
              who.comm, who.rank, who.nranks, who.host.c_str(), who.pid, who.commId);
}

void logChannels(const InitIdentity& who, const std::vector<std::vector<int>>& rings) {
  if (!logEnabled(LogLevel::kInfo, subsys::kInit | subsys::kGraph)) return;
  const size_t n = rings.size();
  for (size_t c = 0; c < n; ++c)
    PLEXUS_INFO(subsys::kInit | subsys::kGraph, "comm %p channel %02zu/%02zu ring: %s", who.comm, c,
                n, compactOrder(rings[c]).c_str());
  if (n == 0)
    PLEXUS_INFO(subsys::kInit | subsys::kGraph, "comm %p ring: rank order 0..%d", who.comm,
                who.nranks - 1);
  if (who.nranks < 2) return;
  for (int t = 0; t < 2; ++t) {
    const algo::TreeNode node = algo::binaryTree(who.nranks, t)[static_cast<size_t>(who.rank)];
    PLEXUS_INFO(subsys::kInit | subsys::kGraph,
                "comm %p tree %d: parent %d -> rank %d -> children %s", who.comm, t, node.parent,
                who.rank, joined(node.children).c_str());
  }
}

void logInitComplete(const InitIdentity& who, int nhosts, int localRanks, double seconds) {
  PLEXUS_INFO(subsys::kInit,
              "comm %p rank %d nranks %d hosts %d localRanks %d - Init COMPLETE, init time %.3f s",
              who.comm, who.rank, who.nranks, nhosts, localRanks, seconds);
}

}  // namespace plexus::runtime
