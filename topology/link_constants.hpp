// The one table of link bandwidths and latencies the topology model uses. Every figure cites
// /work/shared/REFERENCE.md ("Link constants", "Systems") or says that it is an estimate.
// Bandwidths are per direction, GB/s = 10^9 B/s. "Nominal" is the signalling rate vendors
// publish; "modelled" is what collectives achieve (NCCL's tuner figures), and it is what links
// in the graph carry, because the simulator and tuner predict achieved bandwidth.
#pragma once

#include <span>
#include <string_view>

#include "topology/graph.hpp"

namespace plexus::topo {

struct LinkConstantRow {
  const char* link;    // "NVLink 4 (per link)"
  double nominalGBps;  // vendor figure
  double modeledGBps;  // figure used by the model
  const char* source;  // where the figures come from
};

// All rows, for documentation and `plexus-topo` output.
std::span<const LinkConstantRow> linkConstantTable();

// NVLink generation of a GPU from its compute capability x10 (60 → 1, 70 → 2, 80 → 3, 90 → 4,
// 100 and later → 5); 0 when the GPU has no NVLink generation we know.
int nvlinkGenForSm(int sm);
double nvlinkModeledPerLink(int gen);  // GB/s per link
double nvlinkNominalPerLink(int gen);

// PCIe generation from the transfer rate in GT/s (2.5, 5, 8, 16, 32, 64); 0 when unknown.
int pcieGenFromGts(double gts);
double pcieGts(int gen);
// Bandwidth of a PCIe link with `width` lanes. Unknown generation or width (0) is modelled as
// Gen3 x16, the figure NCCL assumes for links it cannot read.
double pcieModeled(int gen, int width);
double pcieNominal(int gen, int width);

// Network: line rate in Gb/s to modelled GB/s (REFERENCE: NDR 400 Gb/s delivers 46-48 GB/s per
// NIC in nccl-tests, i.e. 0.94 of the line rate).
double networkModeled(double gbps);
double networkNominal(double gbps);
constexpr double kNetworkEfficiency = 0.94;
// Line rate (Gb/s) assumed for a NIC of unknown speed when a synthetic network fabric links it:
// an estimate, the common 100 Gb/s port.
constexpr double kUnknownNicGbps = 100.0;

// CPU interconnect between NUMA domains / sockets, by CPU vendor and model numbers.
double cpuInterconnectModeled(std::string_view vendor, int familyId, int modelId,
                              std::string_view arch);

// NVLink-C2C between a Grace CPU and a GPU (per direction, whole link).
double c2cModeled();
double c2cNominal();

// Per-link latencies (µs). REFERENCE gives NCCL's per-hop ring latencies for the LL protocol:
// NVLink 0.6, PCIe 1.0, network 2.7. A typical hop crosses two links (GPU-NVSwitch-GPU,
// GPU-switch-CPU-switch-GPU counts four PCIe links, NIC-switch-NIC two network links), so each
// link carries its share.
constexpr double kNvlinkLatencyUs = 0.3;    // 0.6 / 2
constexpr double kPcieLatencyUs = 0.25;     // 1.0 / 4
constexpr double kNetworkLatencyUs = 1.35;  // 2.7 / 2
constexpr double kC2CLatencyUs = 0.3;       // estimate: as NVLink
constexpr double kCpuLatencyUs = 0.5;       // estimate: no public figure in REFERENCE

// Hosts without GPUs, for planning from a topology file (the running communicator takes these
// figures from its transports' cost declarations instead). Estimates, not in REFERENCE.md:
constexpr double kHostCopyGBps = 12;    // memory copy bandwidth one rank gets
constexpr double kHostHandoffUs = 0.7;  // a cache-line handoff between two cores
constexpr double kTcpLatencyUs = 25;    // one message through two kernels' TCP stacks
constexpr double kTcpEfficiency = 0.9;  // share of the line rate left after headers
// In-switch reduction (NVLink SHARP): the share of the NVLink bandwidth NCCL's NVLS algorithm
// reaches (REFERENCE.md), by GPU generation.
constexpr double kNvlsEfficiencyHopper = 0.85;
constexpr double kNvlsEfficiencyBlackwell = 0.74;

// Link factories: a Link with type, shape, modelled bandwidth and latency filled in.
Link makeNvlink(NodeId a, NodeId b, int gen, int count);
Link makePcie(NodeId a, NodeId b, int gen, int width);
Link makeNetwork(NodeId a, NodeId b, double gbps, int count = 1);
Link makeCpuLink(NodeId a, NodeId b, double bw);
Link makeC2C(NodeId a, NodeId b, int count = 1);

}  // namespace plexus::topo
