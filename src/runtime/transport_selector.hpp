// Chooses a transport per peer pair (the best that can reach the peer, in the order
// PLEXUS_TRANSPORTS gives; default shm then tcp) and hands the engine connections.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/connection_provider.hpp"

namespace plexus::comm {

// Transport names in preference order after applying PLEXUS_TRANSPORTS / PLEXUS_SHM_DISABLE:
// "tcp" forces tcp, "shm,tcp" orders, "^shm" excludes.
std::vector<std::string> transportOrderFromEnv();

// Every transport of PLEXUS_TRANSPORTS' order that is usable here, all through the plugin ABI
// (shm and tcp from their built-in tables, others from plugin libraries). Throws if none is.
std::vector<std::unique_ptr<transport::Transport>> createTransports(
    transport::TransportContext& ctx);

class TransportSelector final : public engine::ConnectionProvider {
 public:
  TransportSelector(const transport::TransportContext& ctx,
                    std::vector<std::unique_ptr<transport::Transport>> transports);
  ~TransportSelector() override;

  // After the all-gather: pick a transport per peer; throws naming an unreachable peer.
  void choose();
  const char* transportFor(int peer) const;

  transport::Connection* connect(int connectionId, int peer) override;
  bool progressTransports() override;
  void addPollFds(std::vector<pollfd>& fds) override;
  bool needsPolling() const override;
  bool usesDoorbell() const override;
  void abortTransports(const std::string& reason) override;

 private:
  const transport::TransportContext& ctx_;
  std::vector<std::unique_ptr<transport::Transport>> transports_;
  std::vector<transport::Transport*> perPeer_;
  std::vector<transport::Transport*> used_;  // transports chosen for at least one peer
  bool polling_ = false;
};

}  // namespace plexus::comm
