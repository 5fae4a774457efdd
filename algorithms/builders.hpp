// Plan builders: given a collective's shape, emit the plan one rank executes. Every builder is
// deterministic (all ranks build consistent plans from the same request) and keeps each message
// within request.fifoElems elements (see plan.hpp).
#pragma once

#include <vector>

#include "algorithms/plan.hpp"

namespace plexus::algo {

struct BuildRequest {
  Collective collective = Collective::kAllReduce;
  int nranks = 1;
  int rank = 0;
  int root = 0;            // broadcast, reduce, gather, scatter
  uint64_t count = 0;      // the API's count (NCCL meaning: per-rank count for all-gather etc.)
  uint64_t fifoElems = 0;  // connection FIFO capacity in elements (> 0)
  int nchannels = 1;       // parallel channels (each gets a contiguous part of the data)
  // Optional ring order: a permutation of 0..nranks-1 (ring[i] sends to ring[i+1]). Empty means
  // rank order. One per channel, or one for all.
  std::vector<std::vector<int>> rings;
};

// Ring algorithms: all-reduce (reduce-scatter then all-gather around the ring, fused
// recvReduceSend / recvReduceCopySend / recvCopySend steps), all-gather, reduce-scatter,
// broadcast and reduce (pipelined chain from/to the root along the ring).
Plan buildRing(const BuildRequest& request);

// One point-to-point transfer as a plan: a single channel on kP2PConnection with one send
// (input -> peer) or one receive (peer -> output) step of `count` elements.
Plan buildSend(int nranks, int rank, int peer, uint64_t count);
Plan buildRecv(int nranks, int rank, int peer, uint64_t count);

// The part of [0, count) that channel c of n handles, as [begin, end): equal parts, the first
// count % n parts one element larger.
std::pair<uint64_t, uint64_t> channelPart(uint64_t count, int channel, int nchannels);

}  // namespace plexus::algo
