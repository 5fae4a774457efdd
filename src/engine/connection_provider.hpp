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
  // nullptr while the connection is being established.
  virtual transport::Connection* connect(int connectionId, int peer) = 0;
  virtual bool progressTransports() = 0;
  virtual void addPollFds(std::vector<pollfd>& fds) = 0;
  virtual bool needsPolling() const = 0;
  // True if some peer wakes this rank through its doorbell (then polls must be short).
  virtual bool usesDoorbell() const = 0;
  // Tells peers this rank failed (with the reason), then closes connections.
  virtual void abortTransports(const std::string& reason) = 0;
};

}  // namespace plexus::engine
