// Plan builders: given a collective's shape, emit the plan one rank executes. Every builder is
// deterministic (all ranks build consistent plans from the same request) and keeps each message
// within request.fifoElems elements (see plan.hpp).
#pragma once

#include <vector>

#include "plan/plan.hpp"

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
  // Largest message a builder may use, in elements (the pipelining chunk the tuner picks); 0: as
  // large as the FIFO allows (fifoElems / 2 for cyclic patterns, fifoElems for trees and chains).
  uint64_t chunkElems = 0;
  // Hierarchical algorithms: the domains (ranks behind one switch / NVLink domain / host), a
  // partition of 0..nranks-1 into groups of equal size, each group in rail order (member i of
  // every group forms rail i). The communicator derives them from the cluster graph
  // (hierGroupsFromCluster in topology_costs.hpp); empty: no hierarchy given.
  std::vector<std::vector<int>> groups;
};

// Ring algorithms: all-reduce (reduce-scatter then all-gather around the ring, fused
// recvReduceSend / recvReduceCopySend / recvCopySend steps), all-gather, reduce-scatter,
// broadcast and reduce (pipelined chain from/to the root along the ring).
Plan buildRing(const BuildRequest& request);

// All-reduce on two complementary binary trees (every rank an inner node in at most one), each
// reducing up and broadcasting down half of the data, pipelined in chunks. Channels come in
// pairs (an odd nchannels is rounded up): channel c runs tree c % 2 on its own part.
Plan buildTree(const BuildRequest& request);

// Recursive halving and doubling: all-reduce (Rabenseifner: reduce-scatter by recursive halving,
// all-gather by recursive doubling), all-gather (recursive doubling) and reduce-scatter
// (recursive halving). Non-powers of two fold: ranks 2i and 2i+1 (i < n - 2^floor(log2 n)) merge
// into one before and split after.
Plan buildRecursive(const BuildRequest& request);

// Switch-aware direct all-reduce (every peer one hop away). One-shot: every rank sends its whole
// input to every other and reduces all inputs locally in the canonical order (canonical.hpp), so
// every rank computes bit-identical results. Two-shot: reduce-scatter then all-gather by direct
// exchange, each block reduced by its owner in the canonical order.
Plan buildOneShot(const BuildRequest& request);
Plan buildTwoShot(const BuildRequest& request);

// In-switch reduction (NVLink SHARP / InfiniBand SHARP shape): every rank pushes its data to the
// switch, the switch reduces and returns the result to all. On hosts there is no such switch: the
// switch's reduction unit is emulated by the ranks, rank r reducing block r of every rank's data
// and multicasting it back (the sharded form NVLS itself uses; same steps as two-shot).
Plan buildNvls(const BuildRequest& request);

// Hierarchical all-reduce over request.groups: reduce-scatter inside each domain (ring), all-reduce
// of each block across domains on the rail of its owners (ring), all-gather inside the domain.
Plan buildHier(const BuildRequest& request);

// Direct algorithms for the rest of the set: all-gather and reduce-scatter by direct exchange
// (every rank sends each peer its block; owners reduce in the canonical order), reduce, gather
// and scatter linear (the root talks to every rank; reduce: in the canonical order), all-to-all
// by pairwise exchange (step s: send to r+s, receive from r-s).
Plan buildDirect(const BuildRequest& request);
Plan buildPairwise(const BuildRequest& request);

// Bruck all-gather: ceil(log2 n) steps for any n (step k: send the 2^k blocks held to r - 2^k,
// receive 2^k more from r + 2^k), blocks written straight to their final place.
Plan buildBruck(const BuildRequest& request);

// Binomial trees rooted at request.root: broadcast and reduce (pipelined in chunks), gather and
// scatter (subtrees' blocks forwarded in scratch).
Plan buildBinomial(const BuildRequest& request);

// Dissemination barrier: round k sends a token to r + 2^k and waits for one from r - 2^k.
// Tokens are zero-element messages (the engine must still exchange them).
Plan buildDissemination(const BuildRequest& request);

// The trees of buildTree: for tree 0 or 1 of n ranks, each rank's parent (-1 for the root) and
// children (at most two).
struct TreeNode {
  int parent = -1;
  std::vector<int> children;
};
std::vector<TreeNode> binaryTree(int nranks, int which);

// Contiguous groups of `size` ranks (the last may be smaller): a default for hierarchical
// algorithms in tests and tools.
std::vector<std::vector<int>> contiguousGroups(int nranks, int size);

// One point-to-point transfer as a plan: a single channel on kP2PConnection with one send
// (input -> peer) or one receive (peer -> output) step of `count` elements.
Plan buildSend(int nranks, int rank, int peer, uint64_t count);
Plan buildRecv(int nranks, int rank, int peer, uint64_t count);

// The part of [0, count) that channel c of n handles, as [begin, end): equal parts, the first
// count % n parts one element larger.
std::pair<uint64_t, uint64_t> channelPart(uint64_t count, int channel, int nchannels);

}  // namespace plexus::algo
