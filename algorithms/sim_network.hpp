// The simulator's network (simulator.hpp): ranks placed on a System's GPUs (rank r on GPU r in
// host, index order, as costsFromSystem places them), each rank-to-rank route a list of directed
// resources taken from the topology graph's path (one resource per hop direction: a GPU's NVLink
// port into the switch, the switch's port to the peer, a PCIe switch port, a NIC, a network
// switch uplink), with its bandwidth and the path's latency. Systems without GPUs (ranks on CPUs
// over shared memory) get one egress and one ingress resource per rank at the costs' intra
// bandwidth, plus one per domain and direction for the network at domainSize x inter bandwidth.
//
// Rates: a set of flows that are in flight together shares the resources max-min fairly
// (progressive filling), each flow also capped by what one channel can move.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "algorithms/cost_model.hpp"
#include "topology/graph.hpp"

namespace plexus::topo {
class PathFinder;
}

namespace plexus::algo {

struct SimRoute {
  std::vector<int> resources;  // directed resources crossed, in order
  double latencyUs = 0;
};

class SimNetwork {
 public:
  SimNetwork(const topo::System& system, int nranks, const TopologyCosts& costs);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  int nranks() const { return nranks_; }
  // The route from rank a to rank b (computed once, then cached).
  const SimRoute& route(int a, int b);
  double capacity(int resource) const { return capacity_[static_cast<size_t>(resource)]; }
  size_t resourceCount() const { return capacity_.size(); }

  // Max-min fair rates (GB/s) of flows in flight together, each capped at flowCapGBps.
  std::vector<double> rates(const std::vector<const SimRoute*>& flows, double flowCapGBps);

 private:
  int resourceFor(int64_t key, double bwGBps);
  SimRoute gpuRoute(int a, int b);
  SimRoute cpuRoute(int a, int b);

  const topo::System& system_;
  int nranks_ = 0;
  TopologyCosts costs_;
  std::vector<topo::NodeId> gpus_;  // rank -> GPU (empty: CPU ranks)
  std::unique_ptr<topo::PathFinder> finder_;
  std::unordered_map<int64_t, int> resourceIds_;
  std::vector<double> capacity_;
  std::unordered_map<int64_t, SimRoute> routes_;
};

}  // namespace plexus::algo
