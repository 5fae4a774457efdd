// Helpers shared by the builders (build_common.hpp): plan header, validation, message limits,
// the step writer.
#include "algorithms/build_common.hpp"

#include <algorithm>
#include <cinttypes>
#include <limits>

#include "algorithms/collective_spec.hpp"
#include "algorithms/partition.hpp"
#include "base/error.hpp"

namespace plexus::algo::detail {

bool rootedCollective(Collective c) {
  return c == Collective::kBroadcast || c == Collective::kReduce || c == Collective::kGather ||
         c == Collective::kScatter;
}

Plan planHeader(const BuildRequest& r, const char* algorithm, int nchannels) {
  Plan plan;
  plan.algorithm = algorithm;
  plan.collective = r.collective;
  plan.nranks = r.nranks;
  plan.rank = r.rank;
  plan.root = rootedCollective(r.collective) ? r.root : -1;
  plan.count = r.count;
  plan.fifoElems = r.fifoElems;
  sym::apiBufferSizes(r.collective, r.nranks, r.rank, r.root, r.count, plan.inputCount,
                      plan.outputCount);
  plan.channels.resize(static_cast<size_t>(nchannels));
  for (int c = 0; c < nchannels; ++c) plan.channels[static_cast<size_t>(c)].connection = c;
  return plan;
}

void validateRequest(const BuildRequest& r, const char* algorithm,
                     std::initializer_list<Collective> supported) {
  const char* coll = collectiveName(r.collective);
  if (std::find(supported.begin(), supported.end(), r.collective) == supported.end()) {
    std::string names;
    for (Collective c : supported)
      names += std::string(names.empty() ? "" : ", ") + collectiveName(c);
    throwError(ErrorCode::kInvalidArgument, "algorithm %s does not implement %s (it implements %s)",
               algorithm, coll, names.c_str());
  }
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

// "Unbounded": large, yet partsOfAtMost(len, m) cannot overflow for any valid count.
constexpr uint64_t kUnbounded = uint64_t{1} << 62;

uint64_t exchangeMessage(const BuildRequest& r) {
  uint64_t m = r.fifoElems == 0 ? kUnbounded : std::max<uint64_t>(1, r.fifoElems / 2);
  if (r.chunkElems > 0) m = std::min(m, r.chunkElems);
  return m;
}

uint64_t treeMessage(const BuildRequest& r) {
  uint64_t m = r.fifoElems == 0 ? kUnbounded : r.fifoElems;
  if (r.chunkElems > 0) m = std::min(m, r.chunkElems);
  return m;
}

void Writer::add(StepKind kind, int from, int to, Slice src, Slice src2, Slice dst, bool fin) {
  Step s;
  s.kind = kind;
  s.recvPeer = stepReceives(kind) ? from : -1;
  s.sendPeer = stepSends(kind) ? to : -1;
  s.src = src;
  s.src2 = src2;
  s.dst = dst;
  s.finalize = fin;
  if (s.count() == 0 && !keepEmpty_) return;
  ch_.steps.push_back(s);
}

std::vector<std::pair<uint64_t, uint64_t>> pieces(uint64_t len, uint64_t maxPart) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  const uint64_t k = partsOfAtMost(len, maxPart);
  out.reserve(k);
  for (uint64_t i = 0; i < k; ++i) out.push_back(evenPart(len, i, k));
  return out;
}

int channelsOf(const BuildRequest& r) {
  return std::clamp(r.nchannels, 1, kMaxChannels);
}

}  // namespace plexus::algo::detail
