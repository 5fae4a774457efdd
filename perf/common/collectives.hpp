// What each perf tool measures: one descriptor per collective with nccl-tests' byte counts,
// bandwidth factors, buffer layout and data layout, and the call itself. The tools only differ
// by the descriptor they pass to perfMain (runner.hpp).
#pragma once

#include <cstddef>
#include <vector>

#include "plexus/nccl.h"

namespace plexus::perf {

// Element counts for a sweep size, as nccl-tests' getCollByteCount: `count` = bytes / element
// size; param is the count passed to the API. In place, the send buffer is
// base + sendInplaceOffset * rank and the receive buffer base + recvInplaceOffset * rank.
struct CollCounts {
  size_t sendCount = 0;
  size_t recvCount = 0;
  size_t paramCount = 0;
  size_t sendInplaceOffset = 0;
  size_t recvInplaceOffset = 0;
};

// Where the expected content of one block (paramCount elements) of the receive buffer comes
// from: the reduction over all ranks of their input block `block`, or rank `source`'s input
// block `block`.
struct BlockSource {
  bool reduce = false;
  int source = 0;
  int block = 0;
};

// What one rank sends and what it must receive.
struct RankLayout {
  int sendBlocks = 1;  // the send buffer holds this rank's input blocks 0..sendBlocks-1
  // Expected receive buffer, block by block. Empty: the rank's receive buffer is not an output
  // (non-root ranks of reduce and gather) and must stay untouched.
  std::vector<BlockSource> recv;
};

struct Collective {
  const char* name;  // "all_reduce" (the tool is <name>_perf)
  bool hasOp;        // prints the op and iterates -o; otherwise the op column is "none"
  bool hasRoot;      // prints and iterates -r; otherwise the root column is -1
  // In place, the result is checked. False for send/recv: one buffer both sent and received in a
  // group is not a valid use of the API, so its in-place form is timed only and its #wrong
  // column is N/A, as in nccl-tests.
  bool checkInPlace;
  CollCounts (*counts)(size_t count, int nranks);
  // Bytes counted by algbw for paramCount elements: count * size, or * nranks for all-gather,
  // reduce-scatter, all-to-all, gather and scatter (nccl-tests).
  size_t (*algBytes)(size_t paramCount, size_t typeSize, int nranks);
  double (*busFactor)(int nranks);  // busbw = algbw * busFactor (nccl-tests)
  RankLayout (*layout)(int rank, int nranks, int root);
  // Issues the operation for one rank on `stream` (host buffers: returns when complete, or at
  // ncclGroupEnd in a group; device buffers: enqueued on the stream).
  ncclResult_t (*run)(const void* send, void* recv, size_t paramCount, ncclDataType_t type,
                      ncclRedOp_t op, int root, int rank, int nranks, ncclComm_t comm,
                      cudaStream_t stream);
};

extern const Collective kAllReduce;
extern const Collective kAllGather;
extern const Collective kReduceScatter;
extern const Collective kBroadcast;
extern const Collective kReduce;
extern const Collective kSendRecv;
extern const Collective kAlltoAll;
extern const Collective kGather;
extern const Collective kScatter;

// busbw for an algbw: algBw * collective.busFactor(nranks).
inline double busBandwidth(const Collective& c, double algBw, int nranks) {
  return algBw * c.busFactor(nranks);
}

}  // namespace plexus::perf
