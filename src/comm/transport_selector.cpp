// Transport selection per peer.
#include "comm/transport_selector.hpp"

#include <algorithm>

#include "util/env.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace plexus::comm {

std::vector<std::string> transportOrderFromEnv() {
  const std::vector<std::string> known = {"shm", "tcp"};
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
        if (std::find(known.begin(), known.end(), tok) == known.end())
          throwError(ErrorCode::kInvalidArgument,
                     "PLEXUS_TRANSPORTS names an unknown transport '%s' (known: shm, tcp)",
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
  bool moved = false;
  for (auto& t : transports_) moved |= t->progress();
  return moved;
}

void TransportSelector::addPollFds(std::vector<pollfd>& fds) {
  for (auto& t : transports_)
    if (t->needsPolling()) t->addPollFds(fds);
}

bool TransportSelector::needsPolling() const {
  // Sockets are polled; when no socket connection exists the engine sleeps on its doorbell. Ranks
  // still accepting a tcp connection poll too.
  if (polling_) return true;
  for (const auto& t : transports_)
    if (t->needsPolling() && std::find(perPeer_.begin(), perPeer_.end(), t.get()) != perPeer_.end())
      return true;
  return false;
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
