// Internal to the topology layer: the routing graph PathFinder searches (path_graph.cpp builds
// it from a System) and the search itself (path_search.cpp). paths.cpp answers queries with them.
//
// The routing graph aggregates NVSwitches (and network switches) of one tier and group into one
// node and splits each GPU into its host side and its NVLink side. A search state is a routing
// node and a phase (before, in or after the network).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "topology/paths.hpp"

namespace plexus::topo {
namespace routing {

enum class RKind : uint8_t { kCpu, kPci, kGpuHost, kGpuNv, kNic, kNvSwitch, kNetSwitch };

struct RNode {
  RKind kind;
  bool transit;                 // may be crossed (not only an endpoint)
  NodeId display;               // system node shown for this routing node
  std::vector<NodeId> members;  // system nodes it stands for
};

struct REdge {
  int to;
  float bw;
  int32_t latNs;
  LinkType type;
  uint8_t cls;  // class this edge gives a path
  uint16_t count;
  uint8_t gen;
  uint8_t width;
};

constexpr int kPhases = 3;  // 0: before the network, 1: in it, 2: after it
constexpr float kInfBw = std::numeric_limits<float>::infinity();

struct Label {
  float bw = 0;
  int32_t latNs = std::numeric_limits<int32_t>::max();
  uint16_t hops = 0;
  uint8_t cls = 0;  // effective class (bridges folded in)
  uint8_t rawCls = 0;
  uint8_t bridges = 0;
  uint16_t nvmin = 0;
  int32_t predState = -1;
  int32_t predEdge = -1;
};

}  // namespace routing

struct PathFinder::Impl {
  std::vector<routing::RNode> rnodes;
  std::vector<int> edgeStart;  // CSR
  std::vector<routing::REdge> edges;
  std::vector<int> hostRnode;  // per system node: its routing node (host side for GPUs)
  std::vector<int> nvRnode;    // per system node: NVLink side of a GPU, or -1

  // Scratch is per call (find/table are const and may run concurrently on one finder).
  struct Search {
    std::vector<routing::Label> labels;
    std::vector<uint8_t> seen;
    std::vector<uint8_t> settled;
    std::vector<int> touched;
    std::vector<int> targetOf;  // rnode -> index in the current targets, or -1
  };

  void build(const System& sys);
  // Widest pass (threshold < 0) or least-latency pass over links of at least `threshold`.
  // Stops when every node in `targets` (system ids) has been popped once.
  // allowNetwork false: paths stay off network links (pairs within one host).
  void run(Search& s, NodeId source, float threshold, bool allowNetwork,
           const std::vector<NodeId>& targets, std::vector<routing::Label>& best) const;
  uint8_t transitClass(int r) const;

 private:
  void addRoutingNodes(const System& sys);
  void addRoutingEdges(const System& sys);
  void clearScratch(Search& s) const;
  void markTargets(Search& s, const std::vector<NodeId>& targets, bool mark) const;
};

}  // namespace plexus::topo
