// What the engine needs from its communicator to reach peers: a connection per (connection id,
// peer), chosen among the transports by the communicator's policy, and the transports' progress.
#pragma once

#include <poll.h>

#include <string>
#include <vector>

#include "transports/common/transport.hpp"

namespace plexus::engine {

class ConnectionProvider {
 public:
  virtual ~ConnectionProvider() = default;
  // The connection for (connection id, peer), from the one cache of connections; nullptr while it
  // is being established. Called for every piece a step moves: keep it cheap.
  virtual transport::Connection* connect(int connectionId, int peer) = 0;
  virtual bool progressTransports() = 0;
  // How the transports in use wake this rank: its doorbell (shared-memory peers ring it) and/or
  // fds to poll (addPollFds).
  virtual transport::WakeSources wakeSources() const = 0;
  virtual void addPollFds(std::vector<pollfd>& fds) = 0;
  // Tells peers this rank failed (with the reason), then closes connections.
  virtual void abortTransports(const std::string& reason) = 0;
};

}  // namespace plexus::engine
