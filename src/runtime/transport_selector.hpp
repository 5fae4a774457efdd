// Chooses a transport per peer pair (the best that can reach the peer, in the order
// PLEXUS_TRANSPORTS gives; default shm then tcp) and hands the engine connections.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "algorithms/topology_costs.hpp"
#include "engine/connection_provider.hpp"
#include "runtime/transport_order.hpp"

namespace plexus::runtime {

// Every transport of PLEXUS_TRANSPORTS' order that is usable here: shm and tcp as C++ objects,
// others from plugin libraries (adapted from the plugin ABI). Throws if none is.
std::vector<std::unique_ptr<transport::Transport>> createTransports(
    transport::TransportContext& ctx);

// The cost model's input for a link of a transport that declared `c` (transport.hpp, Costs).
algo::TransportCost tunerCost(const transport::Costs& c);

// Adds each transport's declared costs to this rank's address blob ("cost:NAME" entries), so that
// every rank sees every rank's declarations after the all-gather.
void addCostDeclarations(const std::vector<std::unique_ptr<transport::Transport>>& transports,
                         std::map<std::string, std::string>& addresses);

class TransportSelector final : public engine::ConnectionProvider {
 public:
  TransportSelector(const transport::TransportContext& ctx,
                    std::vector<std::unique_ptr<transport::Transport>> transports);
  ~TransportSelector() override;

  // After the all-gather: pick a transport per peer; throws naming an unreachable peer.
  void choose();
  void logTransportCounts() const;
  // After choose(): the tuner's costs of a link inside a host and between hosts, from the costs
  // the transport of each kind of link declared on every rank (the most conservative), so that
  // every rank tunes alike. A kind of link the communicator does not have gets the declaration
  // of shm (inside a host) or tcp (between hosts).
  struct LinkCosts {
    algo::TransportCost local, remote;
  };
  LinkCosts linkCosts() const;

  // The connection cache: a transport is asked for a pair until it hands the connection over,
  // then the pointer is kept here (transports own their connections).
  transport::Connection* connect(int connectionId, int peer) override {
    if (static_cast<size_t>(peer) < cache_.size()) [[likely]] {
      const auto& byId = cache_[static_cast<size_t>(peer)];
      if (static_cast<size_t>(connectionId) < byId.size() &&
          byId[static_cast<size_t>(connectionId)] != nullptr) [[likely]]
        return byId[static_cast<size_t>(connectionId)];
    }
    return establish(connectionId, peer);
  }
  // After choose(): the name of the transport chosen for `peer` ("" for this rank).
  std::string transportName(int peer) const {
    const auto* t = perPeer_[static_cast<size_t>(peer)];
    return t != nullptr ? t->name() : "";
  }
  bool progressTransports() override;
  transport::WakeSources wakeSources() const override;
  void addPollFds(std::vector<pollfd>& fds) override;
  void abortTransports(const std::string& reason) override;

 private:
  transport::Connection* establish(int connectionId, int peer);
  algo::TransportCost agreedCost(bool sameHost, const transport::Costs& fallback) const;

  const transport::TransportContext& ctx_;
  std::vector<std::unique_ptr<transport::Transport>> transports_;
  std::vector<transport::Transport*> perPeer_;
  std::vector<transport::Transport*> used_;  // transports chosen for at least one peer
  std::vector<std::vector<transport::Connection*>> cache_;  // [peer][connection id]
};

}  // namespace plexus::runtime
