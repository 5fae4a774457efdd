// Helpers shared by the builders (build_common.hpp): plan header, message limits, the step
// writer. Request validation is in validate_request.cpp.
#include "algorithms/build_common.hpp"

#include <algorithm>

#include "algorithms/collective_spec.hpp"
#include "algorithms/partition.hpp"

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

namespace plexus::algo {

std::pair<uint64_t, uint64_t> channelPart(uint64_t count, int channel, int nchannels) {
  return evenPart(count, static_cast<uint64_t>(channel), static_cast<uint64_t>(nchannels));
}

}  // namespace plexus::algo
