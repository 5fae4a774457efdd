// ncclCommShrink: the ranks that remain build a communicator of their own over the bootstrap
// listeners they already know, without any excluded rank (which may be dead) taking part.
#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "base/log.hpp"
#include "runtime/communicator.hpp"

namespace plexus::runtime {
namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}

// The ranks that stay, ascending; throws naming a bad entry of `exclude`.
std::vector<int> remainingRanks(const std::vector<int>& exclude, int rank, int nranks,
                                const std::string& context) {
  std::vector<bool> out(static_cast<size_t>(nranks), false);
  for (int r : exclude) {
    if (r < 0 || r >= nranks)
      throwError(ErrorCode::kInvalidArgument,
                 "%s: ncclCommShrink: excluded rank %d is not a rank of this communicator (0 to "
                 "%d)",
                 context.c_str(), r, nranks - 1);
    if (out[static_cast<size_t>(r)])
      throwError(ErrorCode::kInvalidArgument, "%s: ncclCommShrink: rank %d is excluded twice",
                 context.c_str(), r);
    out[static_cast<size_t>(r)] = true;
  }
  if (out[static_cast<size_t>(rank)])
    throwError(ErrorCode::kInvalidUsage,
               "%s: ncclCommShrink: this rank is in the exclude list; only the ranks that remain "
               "call it",
               context.c_str());
  std::vector<int> members;
  for (int r = 0; r < nranks; ++r)
    if (!out[static_cast<size_t>(r)]) members.push_back(r);
  return members;
}

}  // namespace

std::unique_ptr<Communicator> Communicator::shrink(const std::vector<int>& exclude, bool abortFirst,
                                                   const CommOptions& options) {
  const std::vector<int> members = remainingRanks(exclude, rank_, nranks_, context_);
  if (abortFirst)
    abort("ncclCommShrink (NCCL_SHRINK_ABORT) was called");
  else
    finalize();  // NCCL_SHRINK_DEFAULT: operations in flight complete first
  // Every remaining rank derives the same tag from the parent, the members and how many shrinks
  // came before; links of a shrink with another exclude list do not match it.
  uint64_t tag = mix(bootstrap_->commId(), 0x5348524b /* "SHRK" */);
  tag = mix(tag, shrinks_++);
  for (int r : members) tag = mix(tag, static_cast<uint64_t>(r));
  const int newRank =
      static_cast<int>(std::find(members.begin(), members.end(), rank_) - members.begin());
  // The first remaining rank starts the new communicator's root; the all-gather spreads its id.
  std::string blob(reinterpret_cast<const char*>(&tag), sizeof(tag));
  if (newRank == 0) {
    const auto bytes = createRootAndId().encode();
    blob.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  std::vector<Bootstrap::KnownPeer> known(static_cast<size_t>(nranks_));
  for (size_t r = 0; r < known.size(); ++r)
    known[r] = {bootstrapAddrs_[r], peers_[r].hostName, peers_[r].pid};
  Deadline deadline = Deadline::after(timeout_);
  std::vector<std::string> blobs;
  try {
    blobs = bootstrap_->allGatherAmong(members, known, tag, blob, deadline);
  } catch (const Error& e) {
    throwError(e.code(),
               "%s: ncclCommShrink to %zu ranks: %s (do all remaining ranks call it with the same "
               "exclude list, and are they alive?)",
               context_.c_str(), members.size(), e.what());
  }
  const std::string& leader = blobs.front();
  UniqueIdBytes bytes{};
  if (leader.size() != sizeof(tag) + bytes.size() || std::memcmp(leader.data(), &tag, sizeof(tag)))
    throwError(ErrorCode::kRemote, "%s: ncclCommShrink: rank %d sent a malformed id",
               context_.c_str(), members.front());
  std::memcpy(bytes.data(), leader.data() + sizeof(tag), bytes.size());
  PLEXUS_INFO(subsys::kInit, "%s: shrinking to %zu ranks (new rank %d)", context_.c_str(),
              members.size(), newRank);
  CommOptions inherited = options;
  if (inherited.timeout.count() == 0) inherited.timeout = timeout_;
  return create(UniqueId::decode(bytes), newRank, static_cast<int>(members.size()), inherited);
}

}  // namespace plexus::runtime
