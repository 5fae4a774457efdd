// Paths between nodes: for a pair, the widest path (largest bottleneck bandwidth), among the
// widest the one of least latency (then fewest hops), its hop list, and its class in the
// vocabulary of NCCL and `nvidia-smi topo -m`:
//
//   LOC  same device                       PIX  at most one PCIe switch/bridge
//   NVL  NVLink, direct or through NVSwitch PXB  several PCIe switches, no host bridge
//   NVB  NVLink through an intermediate GPU PHB  through a PCIe host bridge (the CPU)
//   C2C  chip-to-chip link (Grace-GPU)      SYS  across the CPU interconnect between NUMA nodes
//   NET  through the network                DIS  no path
//
// A path's class is the worst part it crosses. Routing rules that mirror NCCL's: NVSwitch chips
// with the same (tier, group) act as one switch whose links are the sum of the chips' links (so
// a DGX H100 GPU pair has 18 NVLinks, not the 5 of one chip); a GPU is crossed only from NVLink
// to NVLink (NVB; never NVLink into PCIe, which NCCL calls PXN and enables separately); a path
// enters the network at most once (hosts do not route between their NICs).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "topology/graph.hpp"

namespace plexus::topo {

enum class PathClass : uint8_t { kLoc, kNvl, kNvb, kC2C, kPix, kPxb, kPhb, kSys, kNet, kDis };

const char* pathClassName(PathClass c);     // "LOC", "NVL", ...
const char* pathClassMeaning(PathClass c);  // one line for legends
std::optional<PathClass> parsePathClass(std::string_view s);

struct PathHop {
  NodeId node = kNoNode;  // the node; for an aggregated switch, its first chip
  std::string name;       // node name, or "NVS0..NVS3" for an aggregate
  NodeType type = NodeType::kCpu;
  int members = 1;  // chips an aggregated switch stands for
};

struct PathStep {
  LinkType type = LinkType::kPcie;
  int count = 1;  // bonded links (NVLink count, summed over the chips of an aggregate)
  int gen = 0;
  int width = 0;
  double bw = 0;
  double latencyUs = 0;
};

struct Path {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  PathClass cls = PathClass::kDis;
  double bw = 0;                // bottleneck bandwidth, GB/s; infinite for LOC
  double latencyUs = 0;         // sum of link latencies
  int nvlinks = 0;              // NVLink count of the bottleneck for NVL/NVB paths, else 0
  std::vector<PathHop> hops;    // from ... to
  std::vector<PathStep> steps;  // steps[i] joins hops[i] and hops[i+1]
  bool connected() const { return cls != PathClass::kDis; }
};

// The class, bandwidth and latency of a path, without the hops (what matrices need).
struct PairPath {
  PathClass cls = PathClass::kDis;
  uint16_t nvlinks = 0;
  uint16_t hops = 0;
  float bw = 0;
  float latencyUs = 0;
};

// All pairs among a set of endpoints (symmetric).
class PathTable {
 public:
  PathTable() = default;
  PathTable(std::vector<NodeId> endpoints);
  const std::vector<NodeId>& endpoints() const { return endpoints_; }
  size_t size() const { return endpoints_.size(); }
  const PairPath& at(size_t i, size_t j) const { return cells_[i * endpoints_.size() + j]; }
  PairPath& at(size_t i, size_t j) { return cells_[i * endpoints_.size() + j]; }
  std::optional<size_t> indexOf(NodeId node) const;

 private:
  std::vector<NodeId> endpoints_;
  std::vector<PairPath> cells_;
};

class PathFinder {
 public:
  // Builds the routing graph once; the System must outlive the finder.
  explicit PathFinder(const System& system);
  ~PathFinder();
  PathFinder(const PathFinder&) = delete;
  PathFinder& operator=(const PathFinder&) = delete;

  Path find(NodeId from, NodeId to) const;
  PathTable table(std::vector<NodeId> endpoints) const;

  struct Impl;

 private:
  const System& system_;
  std::unique_ptr<Impl> impl_;
};

// Convenience for one pair (builds a PathFinder; use PathFinder for many pairs).
Path findPath(const System& system, NodeId from, NodeId to);

// The rows and columns of `plexus-topo matrix`: host by host, GPUs then NICs, by index.
std::vector<NodeId> matrixEndpoints(const System& system);

}  // namespace plexus::topo
