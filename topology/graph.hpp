// The topology graph model: typed nodes (CPU/NUMA domain, PCIe switch or bridge, GPU, NIC,
// NVSwitch chip, network switch) joined by typed links (NVLink, C2C, PCIe, CPU interconnect,
// network), each link with a modelled bandwidth (GB/s per direction) and latency (µs). A System
// holds one or more hosts plus the fabric between them (NVSwitch trays, network switches).
// Paths between nodes are derived in paths.hpp; the constants behind bandwidths live in
// link_constants.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace plexus::topo {

using NodeId = int32_t;
constexpr NodeId kNoNode = -1;

enum class NodeType : uint8_t {
  kCpu,        // one NUMA domain of a CPU package (NCCL's <cpu>): cores, memory, root complex
  kPci,        // PCIe switch or bridge (or another PCI device kept for the tree)
  kGpu,        // accelerator
  kNic,        // one network port (an RDMA port or a netdev)
  kNvSwitch,   // one NVSwitch / NVLink switch chip (or, for tier 2 of nvl576, one switch plane)
  kNetSwitch,  // a network switch (leaf or spine) of the scale-out fabric
};

enum class LinkType : uint8_t {
  kNvLink,           // NVLink (generation in Link::gen, bonded link count in Link::count)
  kC2C,              // chip-to-chip coherent link (NVLink-C2C between Grace and its GPUs)
  kPcie,             // PCIe (generation in Link::gen, lanes in Link::width)
  kCpuInterconnect,  // SMP link between NUMA domains / sockets (UPI, xGMI, ...)
  kNetwork,          // network cable (speed in Link::speedGbps)
};

const char* nodeTypeName(NodeType t);  // "cpu", "pci", "gpu", "nic", "nvswitch", "netswitch"
const char* linkTypeName(LinkType t);  // "nvlink", "c2c", "pcie", "cpu", "net"
std::optional<NodeType> parseNodeType(std::string_view s);
std::optional<LinkType> parseLinkType(std::string_view s);

struct Node {
  NodeId id = kNoNode;
  NodeType type = NodeType::kCpu;
  std::string name;       // unique in the System: "GPU0", "NIC3", "CPU1", "node002/GPU0", "spine"
  int host = -1;          // index into System::hosts(); -1 for fabric nodes outside any host
  int index = -1;         // per host and type: GPU dev, NIC dev, CPU NUMA id order, switch number
  std::string busId;      // PCI address "dddd:bb:dd.f" (lower case), empty when none
  uint32_t pciClass = 0;  // 24-bit PCI class code (0x030200 GPU, 0x020700 IB NIC, 0x060400 bridge)
  int numa = -1;          // NUMA node the CPU is / the device is local to (-1 unknown)

  // CPU (NUMA domain) facts.
  int package = -1;    // socket number
  int cores = 0;       // physical cores in this NUMA domain
  int threads = 0;     // hardware threads (PUs)
  std::string cpuset;  // PUs as a list: "0-55,112-167"
  uint64_t memoryBytes = 0;
  std::string arch;    // "x86_64", "arm64"
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", "NVIDIA", "Mellanox", ...
  int familyId = -1;   // CPU family / model numbers (the CPU interconnect figure depends on them)
  int modelId = -1;
  std::string model;  // human readable model: "Intel Xeon Platinum 8480C", "H100 80GB HBM3"

  // GPU facts.
  int sm = 0;  // compute capability x10 (90 = Hopper); 0 when unknown
  std::string uuid;
  std::string nvlinkDomain;  // multi-node NVLink domain id (fabric cluster uuid + clique); empty
                             // when the GPU's NVLink reach ends at its host

  // NIC facts.
  std::string ifname;      // netdev name ("eth0", "ib0"); may be empty for pure RDMA ports
  std::string rdmaDevice;  // RDMA device ("mlx5_0"); empty for plain Ethernet
  int port = 0;            // RDMA port number (1-based) or 0
  double speedGbps = 0;    // link speed (Gb/s); 0 when unknown
  bool up = true;          // link state
  std::string linkLayer;   // "InfiniBand", "Ethernet" or empty
  std::string guid;        // port/node GUID or MAC address
  std::vector<std::string> addresses;  // IP addresses with prefix length ("192.0.2.2/24")
  int rail = -1;  // rail (NIC position shared by all hosts of a rail-optimized fabric)

  // Switch facts (NVSwitch and network switches).
  int tier = 0;    // 1: first tier (NVSwitch chips next to GPUs, network leaf), 2: second tier
  int group = -1;  // switches with equal (type, tier, group) act as one aggregate for routing

  // Further facts (vendor/device ids, XML attributes not modelled, ...), exported as-is.
  std::map<std::string, std::string> props;

  std::string label() const;  // "GPU0 (0000:18:00.0)" style, for messages
};

struct Link {
  NodeId a = kNoNode;
  NodeId b = kNoNode;
  LinkType type = LinkType::kPcie;
  int count = 1;         // bonded links (NVLink count), else 1
  int gen = 0;           // NVLink or PCIe generation (0 unknown)
  int width = 0;         // PCIe lanes (0 unknown)
  double speedGbps = 0;  // network links: line rate
  double bw = 0;         // modelled bandwidth per direction, GB/s (10^9 B/s)
  double latencyUs = 0;  // modelled latency of crossing this link, µs

  NodeId other(NodeId n) const { return n == a ? b : a; }
};

struct HostInfo {
  std::string name;
};

// A machine or a cluster of machines. Nodes and links are only ever added; node ids are dense
// indices in insertion order, link ids likewise.
class System {
 public:
  System() = default;
  explicit System(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  void setName(std::string n) { name_ = std::move(n); }
  // Where the description came from ("synthetic", "discovered on h1", "file x.xml").
  const std::string& source() const { return source_; }
  void setSource(std::string s) { source_ = std::move(s); }
  // Free-form remarks made while building (absent sources, assumptions of a model).
  const std::vector<std::string>& notes() const { return notes_; }
  void addNote(std::string note) { notes_.push_back(std::move(note)); }

  int addHost(std::string name);
  const std::vector<HostInfo>& hosts() const { return hosts_; }
  int hostCount() const { return static_cast<int>(hosts_.size()); }

  // Adds a node; its id is assigned here. Throws Error(kInvalidArgument) when the name is
  // empty or already used, or the host index is out of range.
  NodeId addNode(Node node);
  // Adds a link; throws Error(kInvalidArgument) for unknown or equal endpoints or bw <= 0.
  int addLink(const Link& link);

  size_t nodeCount() const { return nodes_.size(); }
  size_t linkCount() const { return links_.size(); }
  const Node& node(NodeId id) const { return nodes_.at(static_cast<size_t>(id)); }
  // Mutable access for filling in facts; the name must not be changed.
  Node& mutableNode(NodeId id) { return nodes_.at(static_cast<size_t>(id)); }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<Link>& links() const { return links_; }
  const Link& link(int id) const { return links_.at(static_cast<size_t>(id)); }
  // Link ids incident to a node.
  std::span<const int> linksOf(NodeId id) const { return adjacency_.at(static_cast<size_t>(id)); }

  std::optional<NodeId> findByName(std::string_view name) const;
  // Resolves what a user typed: a node name, a PCI bus id (any case, domain optional), a NIC's
  // netdev or RDMA device name, or "GPU3"/"NIC1" on the first host of a multi-host system.
  std::optional<NodeId> resolve(std::string_view text) const;
  // Nodes of one type, in id order; host -1 means all hosts (and fabric nodes).
  std::vector<NodeId> nodesOfType(NodeType type, int host = -1) const;
  std::optional<NodeId> findByBusId(int host, std::string_view busId) const;
  size_t countNodes(NodeType type) const;
  size_t countLinks(LinkType type) const;

 private:
  std::string name_;
  std::string source_;
  std::vector<std::string> notes_;
  std::vector<HostInfo> hosts_;
  std::vector<Node> nodes_;
  std::vector<Link> links_;
  std::vector<std::vector<int>> adjacency_;
  std::unordered_map<std::string, NodeId> byName_;
};

// Canonical PCI bus id: "0000:18:00.0" from "18:00.0", "0000:18:00.0", "0000:18:00" (function 0),
// or upper case input. Returns the input lower-cased when it does not look like a bus id.
std::string canonicalBusId(std::string_view text);

// CPU set helpers. NCCL writes affinity as comma-separated 32-bit hex words, most significant
// first ("00000000,00ffffff"); Linux and hwloc write lists ("0-23,48-71").
std::vector<int> parseCpuList(std::string_view list);  // throws Error(kInvalidArgument)
std::string formatCpuList(const std::vector<int>& cpus);
std::vector<int> parseCpuMask(std::string_view mask);  // throws Error(kInvalidArgument)
// Mask with at least `minWords` 32-bit words (NCCL pads to the machine's CPU count).
std::string formatCpuMask(const std::vector<int>& cpus, int minWords = 1);

}  // namespace plexus::topo
