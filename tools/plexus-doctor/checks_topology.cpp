// Topology checks from the graph (PLEXUS_TOPO_FILE when set, else this host's discovery): which
// NIC each GPU is nearest to and whether that crosses the CPU interconnect, and GPU pairs that
// share PCIe switches, where ACS and the IOMMU decide whether peer-to-peer stays under the switch.
#include <filesystem>
#include <set>

#include "check.hpp"
#include "topology/paths.hpp"

namespace plexus::tools::doctor {
namespace {

namespace topo = plexus::topo;

std::vector<topo::NodeId> onHost0(const topo::System& s, topo::NodeType t) {
  return s.nodesOfType(t, s.hostCount() > 0 ? 0 : -1);
}

std::string source(const Context& ctx) {
  return " (" + ctx.graphFrom + ")";
}

Result affinity(const Context& ctx) {
  if (!ctx.graphError.empty())
    return fail("", ctx.graphError,
                "point PLEXUS_TOPO_FILE at a readable NCCL XML or Plexus JSON "
                "file, or unset it to discover this host");
  const topo::System& s = *ctx.graph;
  const auto gpus = onHost0(s, topo::NodeType::kGpu);
  if (gpus.empty()) return skip("", "no GPU" + source(ctx));
  const auto nics = onHost0(s, topo::NodeType::kNic);
  if (nics.empty()) return skip("", std::to_string(gpus.size()) + " GPUs, no NIC" + source(ctx));
  topo::PathFinder finder(s);
  std::string found, remote;
  for (topo::NodeId g : gpus) {
    topo::Path best;
    for (topo::NodeId n : nics) {
      topo::Path p = finder.find(g, n);
      if (!best.connected() || p.cls < best.cls || (p.cls == best.cls && p.bw > best.bw)) best = p;
    }
    const auto& gpu = s.node(g);
    std::string line = gpu.name + "->" + (best.connected() ? s.node(best.to).name : "none") + " " +
                       topo::pathClassName(best.cls);
    if (best.connected() && gpu.numa >= 0 && s.node(best.to).numa >= 0)
      line +=
          " (numa " + std::to_string(gpu.numa) + "/" + std::to_string(s.node(best.to).numa) + ")";
    found += (found.empty() ? "" : ", ") + line;
    if (best.cls >= topo::PathClass::kSys) remote += (remote.empty() ? "" : ", ") + gpu.name;
  }
  found += source(ctx);
  if (!remote.empty())
    return warn("", found + ": " + remote + " reach their nearest NIC across sockets (SYS)",
                "give each GPU's socket a NIC (or move the cards to slots of one socket); until "
                "then keep GPUDirect RDMA off for them (PLEXUS_NET_GDR=0: staged through host "
                "memory) and bind each rank to its GPU's socket (numactl --cpunodebind)");
  return ok("", found);
}

// "on" (translating DMA), "passthrough" or "off" for this host's IOMMU.
std::string iommuState() {
  std::error_code ec;
  bool groups = std::filesystem::exists("/sys/kernel/iommu_groups", ec) &&
                !std::filesystem::is_empty("/sys/kernel/iommu_groups", ec);
  if (!groups) return "off";
  std::string cmdline = readLine("/proc/cmdline");
  if (cmdline.find("iommu=pt") != std::string::npos ||
      cmdline.find("iommu.passthrough=1") != std::string::npos)
    return "passthrough";
  return "on";
}

Result pcie(const Context& ctx) {
  const topo::System& s = *ctx.graph;
  const auto gpus = onHost0(s, topo::NodeType::kGpu);
  if (gpus.empty()) return skip("", "no GPU" + source(ctx));
  std::vector<topo::NodeId> ends = gpus;
  for (topo::NodeId n : onHost0(s, topo::NodeType::kNic)) ends.push_back(n);
  topo::PathFinder finder(s);
  int pairs = 0;
  std::string example;
  for (size_t i = 0; i < gpus.size(); ++i)
    for (size_t j = i + 1; j < ends.size(); ++j) {
      topo::Path p = finder.find(ends[i], ends[j]);
      if (p.cls != topo::PathClass::kPix && p.cls != topo::PathClass::kPxb) continue;
      if (++pairs == 1)
        example =
            s.node(ends[i]).name + "-" + s.node(ends[j]).name + " " + topo::pathClassName(p.cls);
    }
  const std::string iommu = ctx.graph == ctx.local ? iommuState() : "of the file's host unknown";
  if (pairs == 0)
    return ok(
        "", "no GPU shares a PCIe switch with another GPU or a NIC; IOMMU " + iommu + source(ctx));
  std::string found = std::to_string(pairs) + " GPU pair(s) under shared PCIe switches (e.g. " +
                      example + "); IOMMU " + iommu + source(ctx);
  const std::string fix =
      "for P2P under the switch, ACS must not redirect it to the root complex: check 'lspci -vvv "
      "| grep ACSCtl' (SrcValid+ means redirected) and clear it (setpci ... ECAP_ACS+6.w=0) or "
      "boot with iommu=pt; measure with p2pBandwidthLatencyTest";
  if (iommu == "on") return warn("", found + ": DMA is translated, P2P may detour", fix);
  return ok("", found + "; hint: " + fix);
}

PLEXUS_DOCTOR_CHECK(70, "topo.affinity", affinity);
PLEXUS_DOCTOR_CHECK(71, "topo.pcie", pcie);

}  // namespace
}  // namespace plexus::tools::doctor
