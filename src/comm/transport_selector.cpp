// Transport selection per peer.
#include "comm/transport_selector.hpp"

#include <algorithm>

#include "transports/common/loaded_transport.hpp"
#include "util/env.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace plexus::comm {

std::vector<std::string> transportOrderFromEnv() {
  // Default: shared memory on a host; RDMA (ibverbs) when its plugin finds a device; else tcp.
  const std::vector<std::string> known = {"shm", "ibverbs", "tcp"};
  std::vector<std::string> order = known;
  if (auto spec = envGet("TRANSPORTS")) {
    std::string s = *spec;
    bool exclude = !s.empty() && s[0] == '^';
    if (exclude) s.erase(0, 1);
    std::vector<std::string> names;
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t comma = s.find(',', pos);
      std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (!tok.empty()) {
        if (tok.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
          throwError(ErrorCode::kInvalidArgument,
                     "PLEXUS_TRANSPORTS: '%s' is not a transport name (built in: shm, tcp; "
                     "plugins: ibverbs, ofi, ucx, or any libplexus-transport-NAME.so)",
                     tok.c_str());
        names.push_back(tok);
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (exclude) {
      order.clear();
      for (const auto& k : known)
        if (std::find(names.begin(), names.end(), k) == names.end()) order.push_back(k);
    } else {
      order = names;
    }
  }
  if (envBool("SHM_DISABLE", false))
    order.erase(std::remove(order.begin(), order.end(), "shm"), order.end());
  if (order.empty())
    throwError(ErrorCode::kInvalidArgument,
               "PLEXUS_TRANSPORTS / PLEXUS_SHM_DISABLE leave no transport to use");
  return order;
}

std::vector<std::unique_ptr<transport::Transport>> createTransports(
    transport::TransportContext& ctx) {
  bool explicitList = envGet("TRANSPORTS").has_value();
  std::vector<std::unique_ptr<transport::Transport>> out;
  for (const std::string& name : transportOrderFromEnv()) {
    const plexus_transport_v1_t* builtin = name == "shm"   ? transport::builtinShmTable()
                                           : name == "tcp" ? transport::builtinTcpTable()
                                                           : nullptr;
    ctx.requested = explicitList;
    if (auto t = transport::loadTransport(name, ctx, builtin)) out.push_back(std::move(t));
  }
  if (out.empty())
    throwError(ErrorCode::kInvalidUsage,
               "no transport is usable on this host (PLEXUS_TRANSPORTS='%s'); run with "
               "PLEXUS_DEBUG=INFO to see why each was skipped",
               envString("TRANSPORTS", "").c_str());
  return out;
}

TransportSelector::TransportSelector(const transport::TransportContext& ctx,
                                     std::vector<std::unique_ptr<transport::Transport>> transports)
    : ctx_(ctx), transports_(std::move(transports)) {}

TransportSelector::~TransportSelector() = default;

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
    PLEXUS_INFO(subsys::kInit, "rank %d -> rank %zu (host %s): %s", ctx_.rank, p,
                peers[p].hostName.c_str(), perPeer_[p]->name());
  }
  used_.clear();
  for (auto& t : transports_)
    if (std::find(perPeer_.begin(), perPeer_.end(), t.get()) != perPeer_.end())
      used_.push_back(t.get());
}

const char* TransportSelector::transportFor(int peer) const {
  auto* t = perPeer_.at(static_cast<size_t>(peer));
  return t != nullptr ? t->name() : "none";
}

transport::Connection* TransportSelector::connect(int connectionId, int peer) {
  if (peer < 0 || peer >= static_cast<int>(perPeer_.size()) ||
      perPeer_[static_cast<size_t>(peer)] == nullptr)
    throwError(ErrorCode::kInternal, "rank %d: no transport chosen for peer %d", ctx_.rank, peer);
  transport::Transport* t = perPeer_[static_cast<size_t>(peer)];
  transport::Connection* c = t->connect(connectionId, peer);
  if (c != nullptr && !c->usesDoorbell()) polling_ = true;
  return c;
}

bool TransportSelector::progressTransports() {
  // Only transports that carry some peer: progressing an idle one (tcp's accept on its listener)
  // costs system calls on every turn of the engine, which small messages pay for.
  bool moved = false;
  for (transport::Transport* t : used_) moved |= t->progress();
  return moved;
}

void TransportSelector::addPollFds(std::vector<pollfd>& fds) {
  for (transport::Transport* t : used_)
    if (t->needsPolling()) t->addPollFds(fds);
}

bool TransportSelector::needsPolling() const {
  // Sockets are polled; when no socket connection exists the engine sleeps on its doorbell. Ranks
  // still accepting a tcp connection poll too.
  if (polling_) return true;
  return std::any_of(used_.begin(), used_.end(),
                     [](const transport::Transport* t) { return t->needsPolling(); });
}

bool TransportSelector::usesDoorbell() const {
  for (const auto* t : perPeer_)
    if (t != nullptr && !t->needsPolling()) return true;
  return false;
}

void TransportSelector::abortTransports(const std::string& reason) {
  for (auto& t : transports_) t->abortAll(reason);
}

}  // namespace plexus::comm
