// Graphviz DOT export: one cluster per host, node shapes by type, edges labelled with link kind
// and modelled bandwidth. `dot -Tsvg` renders it.
#pragma once

#include <string>
#include <vector>

#include "topology/graph.hpp"

namespace plexus::topo {

// Ranks drawn over the machine: rank r as a small node tied to its device (rankDevice[r], a GPU,
// or the CPU socket of a host without GPUs) and each ring as arrows from rank to rank, one colour
// per ring, so that a ring that crosses a socket, a PCIe switch or a host shows where it does.
struct DotOverlay {
  std::vector<NodeId> rankDevice;
  std::vector<std::vector<int>> rings;  // rank orders, each closed (last back to first)
  std::string title;                    // e.g. "allreduce ring, 2 channels"
};

struct DotOptions {
  const DotOverlay* overlay = nullptr;  // ranks and rings to draw over the machine
  bool compact = false;  // node and link facts as tooltips (SVG) instead of labels: narrower
};

// Edges are coloured by link kind and as wide as log2 of their bandwidth; a legend names the
// kinds. With an overlay, its ranks and rings are drawn too.
std::string exportDot(const System& system, const DotOptions& options);
std::string exportDot(const System& system);

}  // namespace plexus::topo
