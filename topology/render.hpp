// Text and JSON renderings of a System for people and scripts: the lstopo-like tree of
// `plexus-topo show`, the `nvidia-smi topo -m`-like matrix with its legend, and one path.
#pragma once

#include <string>
#include <vector>

#include "topology/graph.hpp"
#include "topology/paths.hpp"

namespace plexus::topo {

struct ShowOptions {
  int host = -1;          // only this host (-1: see allHosts)
  bool allHosts = false;  // every host in full; otherwise the first one and a line for the rest
};
std::string renderShow(const System& system, const ShowOptions& options = {});

// The label of a matrix cell: "X", "NV18", "NVB2", "C2C", "PIX", ..., "NET", "DIS".
std::string matrixCell(const PairPath& p);

struct MatrixOptions {
  int host = -1;  // only the GPUs and NICs of this host (-1: all)
};
// The endpoints a matrix shows (GPUs then NICs, of one host or all).
std::vector<NodeId> matrixNodes(const System& system, const MatrixOptions& options);
std::string renderMatrix(const System& system, const PathTable& table);
std::string matrixJson(const System& system, const PathTable& table);

std::string renderPath(const System& system, const Path& path);
std::string pathJson(const System& system, const Path& path);

}  // namespace plexus::topo
