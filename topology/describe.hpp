// Short human descriptions of nodes, links and a whole host: what `plexus-topo show`, the DOT
// labels and the quick-start banner print.
#pragma once

#include <string>

#include "topology/graph.hpp"

namespace plexus::topo {

// "PCIe Gen5 x16, 48 GB/s", "NVLink4 x5, 103 GB/s", "400 Gb/s network, 47 GB/s", ...
std::string linkSummary(const Link& link);
// Key facts of a node on one line (without its name): "H100 80GB HBM3, sm90, 0000:18:00.0".
std::string nodeFacts(const Node& node);
// "400 Gb/s", "25 Gb/s", "speed unknown".
std::string formatSpeed(double gbps);
// "48 GB/s", "370.8 GB/s".
std::string formatBandwidth(double gbps);
// "1 TiB", "503.2 GiB".
std::string formatBytes(uint64_t bytes);

// A few lines about the first host of the system: packages, NUMA nodes, cores, NICs with their
// speeds, GPUs; what the quick start prints.
std::string describeLocal(const System& system);

}  // namespace plexus::topo
