// The nine collectives of the perf tools (nccl-tests' definitions of sizes and bandwidth).
#include "common/collectives.hpp"

namespace plexus::perf {
namespace {

// --- counts -----------------------------------------------------------------------------------
// Same count in and out: all-reduce, broadcast, reduce, send/recv.
CollCounts sameCounts(size_t count, int) {
  return {count, count, count, 0, 0};
}
// Each rank contributes count/n and receives n blocks: all-gather, gather.
CollCounts gatherCounts(size_t count, int n) {
  size_t per = count / static_cast<size_t>(n);
  return {per, per * static_cast<size_t>(n), per, per, 0};
}
// Each rank holds n blocks and receives one: reduce-scatter, scatter.
CollCounts scatterCounts(size_t count, int n) {
  size_t per = count / static_cast<size_t>(n);
  return {per * static_cast<size_t>(n), per, per, 0, per};
}
CollCounts alltoallCounts(size_t count, int n) {
  size_t per = count / static_cast<size_t>(n);
  return {per * static_cast<size_t>(n), per * static_cast<size_t>(n), per, 0, 0};
}

// --- bandwidth --------------------------------------------------------------------------------
size_t plainBytes(size_t count, size_t size, int) {
  return count * size;
}
size_t allRanksBytes(size_t count, size_t size, int n) {
  return count * size * static_cast<size_t>(n);
}
double factorOne(int) {
  return 1.0;
}
double factorAllReduce(int n) {
  return 2.0 * (n - 1) / n;
}
double factorNm1OverN(int n) {
  return static_cast<double>(n - 1) / n;
}

// --- layouts ----------------------------------------------------------------------------------
RankLayout allReduceLayout(int, int, int) {
  return {1, {{true, 0, 0}}};
}
RankLayout reduceLayout(int rank, int, int root) {
  RankLayout l{1, {}};
  if (rank == root) l.recv = {{true, 0, 0}};
  return l;
}
RankLayout reduceScatterLayout(int rank, int n, int) {
  return {n, {{true, 0, rank}}};
}
RankLayout allGatherLayout(int, int n, int) {
  RankLayout l{1, {}};
  for (int b = 0; b < n; ++b) l.recv.push_back({false, b, 0});
  return l;
}
RankLayout broadcastLayout(int, int, int root) {
  return {1, {{false, root, 0}}};
}
RankLayout sendRecvLayout(int rank, int n, int) {
  return {1, {{false, (rank + n - 1) % n, 0}}};
}
RankLayout alltoallLayout(int rank, int n, int) {
  RankLayout l{n, {}};
  for (int b = 0; b < n; ++b) l.recv.push_back({false, b, rank});
  return l;
}
RankLayout gatherLayout(int rank, int n, int root) {
  RankLayout l{1, {}};
  if (rank == root)
    for (int b = 0; b < n; ++b) l.recv.push_back({false, b, 0});
  return l;
}
RankLayout scatterLayout(int rank, int n, int root) {
  return {n, {{false, root, rank}}};
}

// --- calls ------------------------------------------------------------------------------------
ncclResult_t runAllReduce(const void* s, void* r, size_t c, ncclDataType_t t, ncclRedOp_t op, int,
                          int, int, ncclComm_t comm, cudaStream_t stream) {
  return ncclAllReduce(s, r, c, t, op, comm, stream);
}
ncclResult_t runAllGather(const void* s, void* r, size_t c, ncclDataType_t t, ncclRedOp_t, int, int,
                          int, ncclComm_t comm, cudaStream_t stream) {
  return ncclAllGather(s, r, c, t, comm, stream);
}
ncclResult_t runReduceScatter(const void* s, void* r, size_t c, ncclDataType_t t, ncclRedOp_t op,
                              int, int, int, ncclComm_t comm, cudaStream_t stream) {
  return ncclReduceScatter(s, r, c, t, op, comm, stream);
}
ncclResult_t runBroadcast(const void* s, void* r, size_t c, ncclDataType_t t, ncclRedOp_t, int root,
                          int, int, ncclComm_t comm, cudaStream_t stream) {
  return ncclBroadcast(s, r, c, t, root, comm, stream);
}
ncclResult_t runReduce(const void* s, void* r, size_t c, ncclDataType_t t, ncclRedOp_t op, int root,
                       int, int, ncclComm_t comm, cudaStream_t stream) {
  return ncclReduce(s, r, c, t, op, root, comm, stream);
}
// Ring exchange, as nccl-tests: send to rank+1, receive from rank-1, in one group.
ncclResult_t runSendRecv(const void* s, void* r, size_t c, ncclDataType_t t, ncclRedOp_t, int,
                         int rank, int n, ncclComm_t comm, cudaStream_t stream) {
  ncclResult_t res = ncclGroupStart();
  if (res != ncclSuccess) return res;
  ncclResult_t a = ncclSend(s, c, t, (rank + 1) % n, comm, stream);
  ncclResult_t b = a == ncclSuccess ? ncclRecv(r, c, t, (rank + n - 1) % n, comm, stream) : a;
  ncclResult_t end = ncclGroupEnd();
  return b != ncclSuccess ? b : end;
}
ncclResult_t runAlltoAll(const void* s, void* r, size_t c, ncclDataType_t t, ncclRedOp_t, int, int,
                         int, ncclComm_t comm, cudaStream_t stream) {
  return ncclAlltoAll(s, r, c, t, comm, stream);
}
ncclResult_t runGather(const void* s, void* r, size_t c, ncclDataType_t t, ncclRedOp_t, int root,
                       int, int, ncclComm_t comm, cudaStream_t stream) {
  return ncclGather(s, r, c, t, root, comm, stream);
}
ncclResult_t runScatter(const void* s, void* r, size_t c, ncclDataType_t t, ncclRedOp_t, int root,
                        int, int, ncclComm_t comm, cudaStream_t stream) {
  return ncclScatter(s, r, c, t, root, comm, stream);
}

}  // namespace

const Collective kAllReduce{.name = "all_reduce",
                            .hasOp = true,
                            .hasRoot = false,
                            .checkInPlace = true,
                            .counts = sameCounts,
                            .algBytes = plainBytes,
                            .busFactor = factorAllReduce,
                            .layout = allReduceLayout,
                            .run = runAllReduce};
const Collective kAllGather{.name = "all_gather",
                            .hasOp = false,
                            .hasRoot = false,
                            .checkInPlace = true,
                            .counts = gatherCounts,
                            .algBytes = allRanksBytes,
                            .busFactor = factorNm1OverN,
                            .layout = allGatherLayout,
                            .run = runAllGather};
const Collective kReduceScatter{.name = "reduce_scatter",
                                .hasOp = true,
                                .hasRoot = false,
                                .checkInPlace = true,
                                .counts = scatterCounts,
                                .algBytes = allRanksBytes,
                                .busFactor = factorNm1OverN,
                                .layout = reduceScatterLayout,
                                .run = runReduceScatter};
const Collective kBroadcast{.name = "broadcast",
                            .hasOp = false,
                            .hasRoot = true,
                            .checkInPlace = true,
                            .counts = sameCounts,
                            .algBytes = plainBytes,
                            .busFactor = factorOne,
                            .layout = broadcastLayout,
                            .run = runBroadcast};
const Collective kReduce{.name = "reduce",
                         .hasOp = true,
                         .hasRoot = true,
                         .checkInPlace = true,
                         .counts = sameCounts,
                         .algBytes = plainBytes,
                         .busFactor = factorOne,
                         .layout = reduceLayout,
                         .run = runReduce};
const Collective kSendRecv{.name = "sendrecv",
                           .hasOp = false,
                           .hasRoot = false,
                           .checkInPlace = false,
                           .counts = sameCounts,
                           .algBytes = plainBytes,
                           .busFactor = factorOne,
                           .layout = sendRecvLayout,
                           .run = runSendRecv};
const Collective kAlltoAll{.name = "alltoall",
                           .hasOp = false,
                           .hasRoot = false,
                           .checkInPlace = true,
                           .counts = alltoallCounts,
                           .algBytes = allRanksBytes,
                           .busFactor = factorNm1OverN,
                           .layout = alltoallLayout,
                           .run = runAlltoAll};
const Collective kGather{.name = "gather",
                         .hasOp = false,
                         .hasRoot = true,
                         .checkInPlace = true,
                         .counts = gatherCounts,
                         .algBytes = allRanksBytes,
                         .busFactor = factorNm1OverN,
                         .layout = gatherLayout,
                         .run = runGather};
const Collective kScatter{.name = "scatter",
                          .hasOp = false,
                          .hasRoot = true,
                          .checkInPlace = true,
                          .counts = scatterCounts,
                          .algBytes = allRanksBytes,
                          .busFactor = factorNm1OverN,
                          .layout = scatterLayout,
                          .run = runScatter};

}  // namespace plexus::perf
