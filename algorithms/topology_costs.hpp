// Adapters from the topology module to the algorithms: the cost figures of a (synthetic or
// discovered) System or of the communicator's ClusterView, the domains of hierarchical
// algorithms, and the text of `plexus-topo tune`.
//
// Reduction-capable switches: the topology model has no field for them yet, so a domain's switch
// counts as reduction-capable when one of its switch nodes carries props["reduction"] = "1" /
// "true" (NCCL XML or Plexus JSON can say so), or when its GPUs are Hopper or later (sm >= 90)
// joined by NVSwitch chips (NVLink SHARP exists there).
#pragma once

#include <string>
#include <vector>

#include "algorithms/cost_model.hpp"
#include "plan/plan.hpp"
#include "topology/cluster_view.hpp"
#include "topology/graph.hpp"

namespace plexus::algo {

// Ranks on a System: rank r uses GPU r (in host order, GPU index order); without GPUs the ranks
// share the hosts' CPUs evenly and talk shared memory inside a host. `nranks` 0 means one rank
// per GPU. Domains: the GPUs one NVLink/NVSwitch fabric joins (a host, or a multi-node NVLink
// domain such as GB200 NVL72), else a host. intra: the narrowest GPU-to-GPU path inside rank 0's
// domain (NVLink figures are NCCL's effective ones); inter: the path from rank 0 to the first
// rank of another domain (its NIC's bandwidth, network latency). Throws Error(kInvalidArgument)
// when the system has fewer GPUs than ranks.
TopologyCosts costsFromSystem(const topo::System& system, int nranks = 0);

// The domains of hierarchical algorithms for ranks placed as costsFromSystem places them:
// contiguous groups of domainSize ranks (empty when the ranks do not fill whole domains).
std::vector<std::vector<int>> groupsFromSystem(const topo::System& system, int nranks = 0);

// What one transport costs per rank, as the communicator knows it from its transports.
struct TransportCost {
  double bwGBps = 0;
  double latencyUs = 0;
  double messageUs = 1;  // engine + transport overhead per message
  int maxChannels = 8;
};

// The communicator's costs: `local` (shm) between ranks of one host, `remote` (tcp, RDMA)
// between hosts, the remote bandwidth shared by the ranks of a host that use the same NIC.
TopologyCosts costsFromCluster(const topo::ClusterView& view, const TransportCost& local,
                               const TransportCost& remote);

// Domains for hierarchical algorithms from the cluster graph: NVLink domains when some hold
// several ranks, else hosts; each domain in rank order (local rank i = rail i). Empty when the
// domains differ in size (the hierarchical algorithm then is not offered).
std::vector<std::vector<int>> hierGroupsFromCluster(const topo::ClusterView& view);

// Where rank r of a communicator planned on `system` runs (rank r = device r, as PLEXUS_SYSTEM
// injects it): its GPU, in (host, index) order; on hosts without GPUs, ranks spread over the hosts
// in contiguous blocks and, on a host, over its CPU sockets in turn. For pictures and reports.
std::vector<topo::NodeId> rankDevices(const topo::System& system, int nranks);
// The ring orders the communicator would use on `system` (railMatchedRings over its domains,
// else rank order), `nchannels` of them.
std::vector<std::vector<int>> ringOrdersFromSystem(const topo::System& system, int nranks,
                                                   int nchannels);

// Ring orders for `nchannels` channels (BuildRequest::rings): railMatchedRings
// (ring_orders.hpp) over the hosts, local rank i on rail i. Every ring visits a host's ranks
// together (one crossing per host and ring) and every crossing leaves and enters on the same
// rail (boustrophedon: odd hosts walked backward), the channels spread over the hosts' NICs.
std::vector<std::vector<int>> ringOrdersFromCluster(const topo::ClusterView& view, int nchannels);

// `plexus-topo tune`: per message size (8 B .. maxBytes, x4 steps by default x2^2), the chosen
// algorithm and the predicted time, algbw and busbw of every candidate.
struct TuneReportOptions {
  Collective collective = Collective::kAllReduce;
  int nranks = 0;  // 0: one per GPU
  size_t elemSize = 4;
  uint64_t minBytes = 8;
  uint64_t maxBytes = uint64_t{1} << 30;
  int stepFactor = 4;
  uint64_t fifoBytes = 4u << 20;  // connection FIFO (PLEXUS_SLOTS x PLEXUS_SLOT_SIZE)
  bool json = false;
};
std::string tuneReport(const topo::System& system, const TuneReportOptions& options);

}  // namespace plexus::algo
