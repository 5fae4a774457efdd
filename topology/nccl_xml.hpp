// NCCL topology XML (NCCL_TOPO_FILE / NCCL_TOPO_DUMP_FILE format): import and export.
//
// Import accepts the partial files operators ship (PCI trees only, GPUs and NICs known only by
// PCI class 0x03xxxx / 0x02xxxx) and full dumps (<gpu> with <nvlink> and <c2c>, <nic> with
// <net>). Element mapping: <cpu> → CPU node (and CPU interconnect links between all CPUs);
// <pci> → PCIe switch/bridge, GPU, NIC or NVSwitch by class and children, joined to its parent
// by a PCIe link of its link_speed/link_width; <gpu dev sm> → GPU facts; <nvlink target count
// tclass> → NVLink to a GPU, an NVSwitch (tclass 0x068000) or the CPU (0x060000); <net> → one
// NIC per port (speed in Mb/s). GPUs and NICs without an index get the next ones in bus id
// order. Attributes Plexus does not model are kept and written back.
//
// Export writes one host in the same format; import(export(x)) exports identically.
#pragma once

#include <string>
#include <string_view>

#include "topology/graph.hpp"

namespace plexus::topo {

// Throws Error(kInvalidArgument) "origin:LINE: <element>: what is wrong".
System importNcclXml(std::string_view text, const std::string& origin);
System loadNcclXmlFile(const std::string& path);
// Writes the host `host` of the system (NCCL XML describes one machine).
std::string exportNcclXml(const System& system, int host = 0);

}  // namespace plexus::topo
