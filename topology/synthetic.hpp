// Synthetic systems by name, for planning and tests: machines we cannot touch, built from the
// public figures of REFERENCE.md "Systems", and clusters of them on a rail-optimized fat tree.
//
// Spec syntax:  NAME[:OPTION[,OPTION...]]
//   NAME         cpu | dgx-a100 | dgx-h100 | gb200-nvl72 | nvl576
//   xK           K copies of NAME (K >= 1), e.g. dgx-h100:x4 (4 hosts), gb200-nvl72:x2 (2 racks)
//   nic=G        NIC line rate in Gb/s for every NIC (default: the system's own, e.g. 400)
//   oversub=R    leaf-to-spine oversubscription ratio R >= 1 (default 1, non-blocking)
//   leaf=H       hosts per leaf switch and rail (default 32)
// Example: dgx-h100:x16,nic=200,oversub=2
//
// Whenever the result has more than one host, every NIC joins a rail-optimized fat tree: NIC r of
// every host connects to a leaf of rail r (H hosts per leaf), and all leaves connect to one spine
// layer (modelled as one aggregate switch) with downlink bandwidth / R of uplink.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "topology/graph.hpp"

namespace plexus::topo {

struct SyntheticSpec {
  std::string base;
  int copies = 1;
  double nicGbps = 0;  // 0: keep each NIC's own speed
  double oversub = 1;
  int leafHosts = 32;
};

// Parses a spec; throws Error(kInvalidArgument) naming the bad part and the syntax.
SyntheticSpec parseSyntheticSpec(std::string_view text);
// Builds the system. "cpu" discovers this host (GPUs left out) and replicates it.
System makeSyntheticSystem(std::string_view spec);
System makeSyntheticSystem(const SyntheticSpec& spec);
// The names, with one line each, for help texts.
struct SyntheticInfo {
  const char* name;
  const char* description;
};
const std::vector<SyntheticInfo>& syntheticSystems();
const char* syntheticSpecHelp();

// Adds a rail-optimized fat tree joining the NICs of all hosts (what makeSyntheticSystem does
// for multi-host results); exposed for tests and for custom clusters.
void addRailFabric(System& sys, double oversub, int leafHosts);

}  // namespace plexus::topo
