// The side band of the network plugins: one small TCP connection per peer pair, next to the fabric,
// that (1) authenticates the peer (communicator id and job secret, as the tcp transport does),
// (2) carries per-connection setup data (RDMA queue pair numbers and FIFO addresses for ibverbs; a
// "receives are posted" marker for ofi and ucx), (3) carries abort notices, so every rank can name
// the first failure, and (4) tells when a peer is gone (end of stream), whatever the fabric says.
// The lower rank connects to the higher rank's listener. Non-blocking apart from the short connect
// and hello of the connecting side, as in the tcp transport.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/socket.hpp"
#include "transports/common/transport.hpp"

namespace plexus::transport {

class Sideband {
 public:
  // Listens on the first interface PLEXUS_SOCKET_IFNAME selects. `transport` names it in logs.
  Sideband(const TransportContext& ctx, std::string transport);
  ~Sideband();

  // The listener's address, to embed in the transport's address blob.
  const SocketAddress& address() const { return address_; }

  // Makes sure a channel to `peer` (listening on `peerAddress`) exists: the lower rank connects
  // now (bounded by PLEXUS_TIMEOUT); the higher rank waits for it. False while pending.
  bool ensure(int peer, const SocketAddress& peerAddress);

  // Queues connection setup data for `peer` on `connection` (sent by progress()).
  void sendInfo(int peer, int connection, const std::string& payload);
  // The peer's setup data for `connection`, once (nullopt until it arrived).
  std::optional<std::string> takeInfo(int peer, int connection);

  // Accepts, reads and writes. True if anything moved. Throws Error(kRemote) naming the peer when
  // a peer sent an abort notice (with its first failure).
  bool progress();
  // After the fabric reported `peer` broken: reads its side band until an abort notice (thrown,
  // as progress() does, so the first failure is named rather than this symptom of it) or its end
  // of stream arrives, for at most `max`. A peer that aborted sends its notice before it closes
  // anything, so only a peer that died reaches the end with no notice.
  void settle(int peer, std::chrono::milliseconds max);
  // Throws the error for a connection to `peer` (described as `who`) the fabric broke with
  // `broken`: the peer's abort notice if one arrives within a second (settle), else that it died
  // when its side band ended, else `broken` itself.
  [[noreturn]] void failBroken(int peer, const std::string& who, const std::string& broken);
  // The peer's end of the side band is gone (it exited, failed or finished); `why` says how.
  bool peerGone(int peer, std::string* why) const;
  // Fds to poll while idle.
  void addPollFds(std::vector<pollfd>& fds) const;
  // Sends `reason` to every peer with a channel (best effort, bounded), then half-closes.
  void abortAll(const std::string& reason);
  bool aborted() const { return aborted_; }

  // "rank 3 (host b)".
  std::string peerName(int peer) const;

 private:
  struct Channel;
  struct Pending;
  bool acceptNew();
  bool pump(int peer, Channel& c);
  void adopt(int peer, Fd fd);

  const TransportContext& ctx_;
  std::string transport_;
  Fd listener_;
  SocketAddress address_;
  std::vector<std::unique_ptr<Pending>> pending_;
  std::map<int, std::unique_ptr<Channel>> channels_;
  std::map<int, std::string> notices_;
  bool aborted_ = false;
};

}  // namespace plexus::transport
