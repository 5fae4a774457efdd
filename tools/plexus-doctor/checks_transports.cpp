// Transport checks: RDMA ports that discovery sees (libibverbs through dlopen, else sysfs), the
// plugin libraries per transport (the runtime's own search: transports/common/loaded_transport.hpp)
// and the transport each class of peer would get, in PLEXUS_TRANSPORTS' order.
#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>

#include "base/host_id.hpp"
#include "check.hpp"
#include "transports/common/loaded_transport.hpp"

namespace plexus::tools::doctor {
namespace {

Result rdma(const Context& ctx) {
  std::string ports;
  int down = 0;
  for (const auto& n : ctx.local->nodes()) {
    if (n.type != plexus::topo::NodeType::kNic || n.rdmaDevice.empty()) continue;
    char speed[32];
    std::snprintf(speed, sizeof(speed), "%.0f Gb/s", n.speedGbps);
    ports += (ports.empty() ? "" : ", ") + n.rdmaDevice + " port " + std::to_string(n.port) + " " +
             (n.up ? "ACTIVE " : "DOWN ") + speed + (n.linkLayer.empty() ? "" : " ") + n.linkLayer;
    down += n.up ? 0 : 1;
  }
  if (ports.empty()) {
    std::string why;
    for (const std::string& note : ctx.local->notes())
      if (note.find("ibverbs") != std::string::npos) why += "; " + note;
    return skip("", "no RDMA devices" + why);
  }
  if (down > 0)
    return warn("", ports,
                "bring the DOWN ports up (cable, subnet manager: systemctl start opensm; "
                "ibstat shows the state) or exclude them with PLEXUS_IB_HCA");
  return ok("", ports);
}

// Where plugin `name` was loaded from, or "" with `searched` filled when it was not found.
std::string pluginPath(const std::string& name, std::string* searched) {
  const plexus_transport_v1_t* table = transport::findTransportTable(name, searched);
  if (table == nullptr) return {};
  Dl_info info{};
  if (dladdr(static_cast<const void*>(table), &info) != 0 && info.dli_fname != nullptr)
    return info.dli_fname;
  return "(loaded)";
}

std::vector<std::string> pluginNames(const Context& ctx) {
  std::vector<std::string> names = {"ibverbs", "ofi", "ucx"};
  for (const std::string& t : ctx.transports)
    if (t != "shm" && t != "tcp" && std::find(names.begin(), names.end(), t) == names.end())
      names.push_back(t);
  return names;
}

// The search path in words: the candidates of one plugin with its file name as NAME.
std::string searchPath(const std::string& name, const std::string& searched) {
  const std::string file = "libplexus-transport-" + name + ".so";
  std::string out = searched;
  for (size_t at = out.find(file); at != std::string::npos; at = out.find(file, at + 1))
    out.replace(at, file.size(), "libplexus-transport-NAME.so");
  return out +
         " (PLEXUS_PLUGIN_PATH, else the plexus/ folder of the libplexus.so beside this "
         "tool, then the loader's path)";
}

Result plugins(const Context& ctx) {
  if (!ctx.transportError.empty())
    return fail("", ctx.transportError, "fix PLEXUS_TRANSPORTS (e.g. shm,tcp)");
  const char* var = std::getenv("PLEXUS_TRANSPORTS");
  const bool explicitOrder = var != nullptr && *var != '\0';
  std::string found, missingWanted, searchedAll;
  for (const std::string& name : pluginNames(ctx)) {
    std::string searched;
    std::string path = pluginPath(name, &searched);
    const bool wanted = ctx.inOrder(name);
    found += (found.empty() ? "" : "; ") + name + (path.empty() ? " missing" : " found " + path) +
             (wanted ? "" : " (not in the transport order)");
    if (path.empty() && searchedAll.empty()) searchedAll = searchPath(name, searched);
    if (path.empty() && wanted && explicitOrder)
      missingWanted += (missingWanted.empty() ? "" : ", ") + name;
  }
  if (!searchedAll.empty()) found += "; searched " + searchedAll;
  if (!missingWanted.empty())
    return warn("", found,
                "PLEXUS_TRANSPORTS names " + missingWanted +
                    ": install plexus' plugin package or point PLEXUS_PLUGIN_PATH at the folder "
                    "holding libplexus-transport-NAME.so (init skips a missing plugin)");
  return ok("", found);
}

// Whether transport `name` is usable here, and why not: a plugin is initialised as a
// one-rank communicator would (wrapTransportTable), so its own device probing answers.
bool usable(const Context& ctx, const std::string& name, std::string* why) {
  if (name == "shm" || name == "tcp") return true;
  std::string searched;
  const plexus_transport_v1_t* table = transport::findTransportTable(name, &searched);
  if (table == nullptr) {
    *why = name + ": no libplexus-transport-" + name + ".so";
    return false;
  }
  std::vector<transport::PeerRecord> peers(1);
  peers[0].rank = 0;
  peers[0].hostHash = hostHash();
  peers[0].hostName = hostName();
  peers[0].pid = static_cast<int>(getpid());
  std::atomic<bool> abort{false};
  transport::TransportContext tctx;
  tctx.peers = &peers;
  tctx.abort = &abort;
  tctx.requested = ctx.inOrder(name);
  std::string unavailable;
  std::unique_ptr<transport::Transport> t;
  try {
    t = transport::wrapTransportTable(table, tctx, &unavailable);
  } catch (const std::exception& e) {
    unavailable = e.what();
  }
  if (t == nullptr) *why = name + ": " + (unavailable.empty() ? "no usable device" : unavailable);
  return t != nullptr;
}

Result choice(const Context& ctx) {
  if (!ctx.transportError.empty())
    return fail("", ctx.transportError, "fix PLEXUS_TRANSPORTS (e.g. shm,tcp)");
  std::string order, skipped, local, remote;
  for (const std::string& t : ctx.transports) {
    order += (order.empty() ? "" : ",") + t;
    std::string why;
    if (!usable(ctx, t, &why)) {
      skipped += "; skipped " + why;
      continue;
    }
    // shm reaches ranks on the same host only; tcp and the plugins reach any host they have a
    // device and an address for (plugins decide at init from their devices).
    if (local.empty()) local = t;
    if (remote.empty() && t != "shm") remote = t;
  }
  const char* var = std::getenv("PLEXUS_TRANSPORTS");
  std::string found =
      std::string("order ") + order +
      (var != nullptr && *var != '\0' ? " (PLEXUS_TRANSPORTS)" : " (default)") + skipped +
      "; same host -> " + (local.empty() ? "none" : local) +
      " (the first usable in the order), other host -> " + (remote.empty() ? "none" : remote) +
      (ctx.inOrder("shm") && remote != "shm" ? " (shm reaches this host only)" : "");
  if (local == "tcp" && ctx.ranks > 1)
    found += " (shm is not in the order: same-host peers go through loopback sockets)";
  if (local.empty())
    return fail("", found, "set PLEXUS_TRANSPORTS=shm,tcp (or install the plugins it names)");
  if (remote.empty())
    return warn("", found + ": ranks on other hosts cannot be reached",
                "add tcp or a network plugin to PLEXUS_TRANSPORTS (e.g. shm,ibverbs,tcp)");
  return ok("", found);
}

PLEXUS_DOCTOR_CHECK(50, "rdma.devices", rdma);
PLEXUS_DOCTOR_CHECK(60, "transports.plugins", plugins);
PLEXUS_DOCTOR_CHECK(61, "transports.choice", choice);

}  // namespace
}  // namespace plexus::tools::doctor
