// Plexus topology JSON: the whole System (all hosts, fabric, notes) without loss.
//
//   {"format": "plexus-topology", "version": 1, "name": ..., "source": ..., "notes": [...],
//    "hosts": [{"name": ...}],
//    "nodes": [{"name": "GPU0", "type": "gpu", "host": 0, "index": 0, "bus_id": ..., ...}],
//    "links": [{"a": "GPU0", "b": "NVS0", "type": "nvlink", "gen": 4, "count": 5,
//               "bw": 103.0, "latency_us": 0.3}]}
//
// Node fields equal to their defaults are left out. Links name their ends by node name.
#pragma once

#include <string>
#include <string_view>

#include "topology/graph.hpp"

namespace plexus::topo {

std::string exportJson(const System& system, int indent = 1);
// Throws Error(kInvalidArgument) "origin: where: what".
System importJson(std::string_view text, const std::string& origin);

}  // namespace plexus::topo
