// Graphviz DOT export: one cluster per host, node shapes by type, edges labelled with link kind
// and modelled bandwidth. `dot -Tsvg` renders it.
#pragma once

#include <string>

#include "topology/graph.hpp"

namespace plexus::topo {

std::string exportDot(const System& system);

}  // namespace plexus::topo
