// Transport selection per peer.
#include "runtime/transport_selector.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "base/cuda_runtime.hpp"
#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "runtime/init_log.hpp"
#include "runtime/scale_support.hpp"
#include "transports/common/loaded_transport.hpp"

namespace plexus::runtime {

namespace {

// A built-in transport made directly; nullptr, with `why`, when it cannot work here (its factory
// says so with kInvalidUsage, as a plugin says PLEXUS_TP_UNAVAILABLE).
std::unique_ptr<transport::Transport> makeBuiltin(const std::string& name,
                                                  const transport::TransportContext& ctx,
                                                  std::string* why) {
  try {
    return name == "shm" ? transport::makeShmTransport(ctx) : transport::makeTcpTransport(ctx);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidUsage)
      throw Error(e.code(), name + " transport: init failed: " + e.what());
    *why = e.what();
    return nullptr;
  }
}

// Makes transport `name`: nullptr with the reason in `why` (and `unknown` set for a name that is
// no transport at all) when it is not there or not usable here.
std::unique_ptr<transport::Transport> makeTransport(const std::string& name,
                                                    const transport::TransportContext& ctx,
                                                    std::string* why, bool* unknown) {
  std::unique_ptr<transport::Transport> t;
  if (name == "shm" || name == "tcp") {
    t = makeBuiltin(name, ctx, why);
  } else {
    std::string searched, failures;
    const plexus_transport_v1_t* table = transport::findTransportTable(name, &searched, &failures);
    if (table == nullptr && !failures.empty()) {
      // The library is there but does not load: its loader's reason first, it is the fix.
      *why = failures +
             ": the plugin library exists but does not load; rebuild or reinstall it, check its "
             "dependencies with ldd, or remove it from the search path (looked for " +
             searched + ")";
      PLEXUS_INFO(subsys::kInit, "transport %s: %s; skipped", name.c_str(), why->c_str());
      return nullptr;
    }
    if (table == nullptr) {
      PLEXUS_INFO(subsys::kInit, "transport %s: no plugin library (looked for %s); skipped",
                  name.c_str(), searched.c_str());
      *unknown = !isShippedTransport(name);
      *why = *unknown ? "not a transport" + transportSuggestion(name) +
                            ": no plugin library (looked for " + searched + ")"
                      : "its plugin was not built or installed (looked for " + searched +
                            "); install it or set PLEXUS_PLUGIN_PATH to its folder";
      return nullptr;
    }
    t = transport::wrapTransportTable(table, ctx, why);
  }
  if (!t) {
    PLEXUS_INFO(subsys::kInit, "transport %s: not usable here (%s); skipped", name.c_str(),
                why->c_str());
    *why = "not usable here: " + *why;
  }
  return t;
}

}  // namespace

std::vector<std::unique_ptr<transport::Transport>> createTransports(
    transport::TransportContext& ctx) {
  ctx.requested = envGet("TRANSPORTS").has_value();
  // With a usable CUDA device, transports open their fabric for device memory too (ofi asks for
  // FI_HMEM); registering it stays each transport's and PLEXUS_NET_GDR's decision.
  if (cuda::usable()) ctx.memKinds |= PLEXUS_TP_MEM_CUDA;
  std::vector<std::unique_ptr<transport::Transport>> out;
  std::string skipped;  // why each transport was left out, for the error below
  std::vector<std::string> unknown;
  for (const std::string& name : transportOrderFromEnv()) {
    std::string why;
    bool isUnknown = false;
    if (auto t = makeTransport(name, ctx, &why, &isUnknown)) {
      out.push_back(std::move(t));
      continue;
    }
    if (isUnknown) unknown.push_back(name);
    skipped += (skipped.empty() ? "" : "; ") + name + ": " + why;
  }
  if (out.empty())
    throwError(ErrorCode::kInvalidUsage,
               "no transport is usable on this host (PLEXUS_TRANSPORTS='%s'): %s%s%s",
               envString("TRANSPORTS", "").c_str(), skipped.c_str(), unknown.empty() ? "" : "; ",
               unknown.empty() ? "" : kValidTransportNames);
  // Some transport works: a misspelt one is skipped with a warning (once per job, from rank 0).
  for (const std::string& name : unknown)
    if (ctx.rank == 0)
      PLEXUS_WARN(subsys::kInit,
                  "PLEXUS_TRANSPORTS names '%s', which is not a transport%s; skipped (%s)",
                  name.c_str(), transportSuggestion(name).c_str(), kValidTransportNames);
  return out;
}

TransportSelector::TransportSelector(const transport::TransportContext& ctx,
                                     std::vector<std::unique_ptr<transport::Transport>> transports)
    : ctx_(ctx), transports_(std::move(transports)) {}

// One line per rank for scripts/scale.sh: the peers this rank connected to (connections are made
// lazily, for the peers a plan uses) and what the process holds at that point.
TransportSelector::~TransportSelector() {
  if (!logEnabled(LogLevel::kInfo, subsys::kInit | subsys::kBootstrap)) return;
  int peers = 0, connections = 0;
  for (const auto& byId : cache_) {
    int n = static_cast<int>(
        std::count_if(byId.begin(), byId.end(), [](const transport::Connection* c) { return c; }));
    peers += n > 0 ? 1 : 0;
    connections += n;
  }
  PLEXUS_INFO(subsys::kInit | subsys::kBootstrap,
              "rank %d of %d: %d peers connected (%d connections); %s", ctx_.rank, ctx_.nranks,
              peers, connections, processResources().c_str());
}

void TransportSelector::choose() {
  const auto& peers = *ctx_.peers;
  perPeer_.assign(peers.size(), nullptr);
  const auto& self = peers[static_cast<size_t>(ctx_.rank)];
  for (size_t p = 0; p < peers.size(); ++p) {
    if (static_cast<int>(p) == ctx_.rank) continue;
    for (auto& t : transports_) {
      if (t->canReach(self, peers[p])) {
        perPeer_[p] = t.get();
        break;
      }
    }
    if (perPeer_[p] == nullptr) {
      std::string names;
      for (auto& t : transports_) names += std::string(names.empty() ? "" : ", ") + t->name();
      throwError(ErrorCode::kInvalidUsage,
                 "rank %d: no transport can reach rank %zu (host %s) among [%s]; check "
                 "PLEXUS_TRANSPORTS (shm only reaches ranks on the same host)",
                 ctx_.rank, p, peers[p].hostName.c_str(), names.c_str());
    }
    // One line per peer up to kPerPeerInfoRanks ranks (576 ranks would print 331,200 lines at
    // INFO); beyond, at TRACE, with the per-transport counts below at INFO.
    PLEXUS_LOG(ctx_.nranks <= kPerPeerInfoRanks ? LogLevel::kInfo : LogLevel::kTrace,
               subsys::kInit | subsys::kNet, "rank %d -> rank %zu (host %s): %s", ctx_.rank, p,
               peers[p].hostName.c_str(), perPeer_[p]->name());
  }
  logTransportCounts();
  used_.clear();
  for (auto& t : transports_)
    if (std::find(perPeer_.begin(), perPeer_.end(), t.get()) != perPeer_.end())
      used_.push_back(t.get());
}

// "rank R transports: shm to 7 peers, tcp to 568 peers" (INIT and NET).
void TransportSelector::logTransportCounts() const {
  if (!logEnabled(LogLevel::kInfo, subsys::kInit | subsys::kNet)) return;
  std::string counts;
  for (auto& t : transports_) {
    const auto n = std::count(perPeer_.begin(), perPeer_.end(), t.get());
    if (n > 0)
      counts += formatString("%s%s to %td peer%s", counts.empty() ? "" : ", ", t->name(), n,
                             n == 1 ? "" : "s");
  }
  PLEXUS_INFO(subsys::kInit | subsys::kNet, "rank %d of %d transports: %s", ctx_.rank, ctx_.nranks,
              counts.empty() ? "none (single rank)" : counts.c_str());
}

transport::Connection* TransportSelector::establish(int connectionId, int peer) {
  if (connectionId < 0 || peer < 0 || peer >= static_cast<int>(perPeer_.size()) ||
      perPeer_[static_cast<size_t>(peer)] == nullptr)
    throwError(ErrorCode::kInternal, "rank %d: no transport chosen for peer %d (connection %d)",
               ctx_.rank, peer, connectionId);
  transport::Connection* c = perPeer_[static_cast<size_t>(peer)]->connect(connectionId, peer);
  if (c != nullptr) {
    if (cache_.size() < perPeer_.size()) cache_.resize(perPeer_.size());
    auto& byId = cache_[static_cast<size_t>(peer)];
    if (static_cast<size_t>(connectionId) >= byId.size())
      byId.resize(static_cast<size_t>(connectionId) + 1, nullptr);
    byId[static_cast<size_t>(connectionId)] = c;
  }
  return c;
}

bool TransportSelector::progressTransports() {
  // Only transports that carry some peer: progressing an idle one (tcp's accept on its listener)
  // costs system calls on every turn of the engine, which small messages pay for.
  bool moved = false;
  for (transport::Transport* t : used_) moved |= t->progress();
  return moved;
}

transport::WakeSources TransportSelector::wakeSources() const {
  // The rank's doorbell when some transport in use has it rung; fds when some transport must be
  // polled (sockets, or shm while it sets up a connection).
  transport::WakeSources all;
  for (const transport::Transport* t : used_) {
    transport::WakeSources w = t->wakeSources();
    if (all.doorbell == nullptr) all.doorbell = w.doorbell;
    all.pollFds |= w.pollFds;
  }
  return all;
}

void TransportSelector::addPollFds(std::vector<pollfd>& fds) {
  for (transport::Transport* t : used_)
    if (t->wakeSources().pollFds) t->addPollFds(fds);
}

algo::TransportCost tunerCost(const transport::Costs& c) {
  algo::TransportCost t;
  t.bwGBps = c.bandwidthGBps;
  t.latencyUs = c.latencyUs;
  t.messageUs = c.messageUs;
  t.maxChannels = c.maxChannels;
  return t;
}

namespace {

constexpr const char* kCostPrefix = "cost:";

std::string encodeCosts(const transport::Costs& c) {
  return formatString("%.17g %.17g %.17g %d %d %u", c.latencyUs, c.bandwidthGBps, c.messageUs,
                      c.registersMemory ? 1 : 0, c.maxChannels, c.registerCaps);
}

bool decodeCosts(const std::string& s, transport::Costs* c) {
  int reg = 0;
  unsigned caps = 0;
  // registerCaps (the sixth field) is absent from the declarations of older builds.
  const int n = std::sscanf(s.c_str(), "%lf %lf %lf %d %d %u", &c->latencyUs, &c->bandwidthGBps,
                            &c->messageUs, &reg, &c->maxChannels, &caps);
  if (n != 5 && n != 6) return false;
  c->registersMemory = reg != 0;
  c->registerCaps = n == 6 ? caps : (reg != 0 ? PLEXUS_TP_REG_HOST : 0u);
  return c->bandwidthGBps > 0 && c->maxChannels > 0;
}

}  // namespace

void addCostDeclarations(const std::vector<std::unique_ptr<transport::Transport>>& transports,
                         std::map<std::string, std::string>& addresses) {
  for (const auto& t : transports)
    addresses[std::string(kCostPrefix) + t->name()] = encodeCosts(t->costs());
}

algo::TransportCost TransportSelector::agreedCost(bool sameHost,
                                                  const transport::Costs& fallback) const {
  // The first pair of ranks with this kind of link, in rank order, is the same on every rank, and
  // so is the transport that reaches it: the first of the (common) order that can.
  const auto& peers = *ctx_.peers;
  const transport::Transport* chosen = nullptr;
  for (size_t a = 0; a < peers.size() && chosen == nullptr; ++a)
    for (size_t b = a + 1; b < peers.size() && chosen == nullptr; ++b) {
      if ((peers[a].hostHash == peers[b].hostHash) != sameHost) continue;
      for (const auto& t : transports_)
        if (t->canReach(peers[a], peers[b])) {
          chosen = t.get();
          break;
        }
      if (chosen == nullptr) return tunerCost(fallback);
    }
  if (chosen == nullptr) return tunerCost(fallback);
  // Its declarations on every rank: the slowest figures of all.
  transport::Costs agreed = chosen->costs();
  const std::string key = std::string(kCostPrefix) + chosen->name();
  for (const auto& p : peers) {
    auto it = p.addresses.find(key);
    transport::Costs c;
    if (it == p.addresses.end() || !decodeCosts(it->second, &c)) continue;
    agreed.latencyUs = std::max(agreed.latencyUs, c.latencyUs);
    agreed.bandwidthGBps = std::min(agreed.bandwidthGBps, c.bandwidthGBps);
    agreed.messageUs = std::max(agreed.messageUs, c.messageUs);
    agreed.registersMemory = agreed.registersMemory && c.registersMemory;
    agreed.registerCaps &= c.registerCaps;
    agreed.maxChannels = std::min(agreed.maxChannels, c.maxChannels);
  }
  // tcp inside a host runs over the kernel's loopback: the ranks' own threads copy every byte, so
  // a second channel adds messages and system calls but no bandwidth (2 ranks, 512 B-16 KB: 17-22
  // us with 2 channels against 10-15 us with 1; 256 KB-64 MB: 1.9-2.5 GB/s busbw against 2.2-3.5).
  if (sameHost && std::string_view(chosen->name()) == "tcp") agreed.maxChannels = 1;
  PLEXUS_INFO(subsys::kGraph,
              "rank %d: links %s a host cost %.3g us + %.3g us per message, %.3g GB/s, up to %d "
              "channels (%s)",
              ctx_.rank, sameHost ? "inside" : "between", agreed.latencyUs, agreed.messageUs,
              agreed.bandwidthGBps, agreed.maxChannels, chosen->name());
  return tunerCost(agreed);
}

TransportSelector::LinkCosts TransportSelector::linkCosts() const {
  return {agreedCost(true, transport::shmCosts()), agreedCost(false, transport::tcpCosts())};
}

void TransportSelector::abortTransports(const std::string& reason) {
  for (auto& t : transports_) t->abortAll(reason);
}

}  // namespace plexus::runtime
