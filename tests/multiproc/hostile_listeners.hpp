// A hostile neighbour inside a rank process: a thread that finds every TCP socket this process
// listens on (the bootstrap root, the rank's bootstrap listener, the tcp transport's listener) as
// soon as it appears, and opens bad connections to it: silent, garbage, absurd length prefixes,
// the right magic with the wrong secret, connect-and-close. It holds them open until stopped.
#pragma once

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "base/socket.hpp"

namespace plexus::testing {

class HostileListeners {
 public:
  HostileListeners();
  ~HostileListeners();  // stops and closes every connection
  void stop();
  int ports() const { return ports_.load(); }              // listeners attacked
  int connections() const { return connections_.load(); }  // bad connections opened

  static constexpr int kPerPort = 8;  // bad connections per listener

 private:
  void run();
  void attack(int port);

  std::atomic<bool> stop_{false};
  std::atomic<int> ports_{0};
  std::atomic<int> connections_{0};
  std::set<int> seen_;
  std::vector<Fd> held_;
  std::thread thread_;
};

// Ports of this process's listening TCP sockets (IPv4 and IPv6), from /proc.
std::set<int> listeningPorts();

}  // namespace plexus::testing
