// Per-rank bootstrap: meets the root, joins the ring of ranks, and offers out-of-band
// collectives over it (all-gather of byte blobs, barrier) for init, split and connection setup.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "base/deadline.hpp"
#include "base/socket.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::runtime {

class Bootstrap {
 public:
  // Connects rank `rank` of `nranks` through the root named by `id` (starting the root first when
  // the id says rank 0 does). Throws Error naming what was not reached by `deadline`.
  static std::unique_ptr<Bootstrap> connect(const UniqueId& id, int rank, int nranks,
                                            Deadline deadline, const std::atomic<bool>* abort);
  ~Bootstrap();

  int rank() const { return rank_; }
  int nranks() const { return nranks_; }
  uint64_t commId() const { return commId_; }
  const Secret& secret() const { return secret_; }

  // Every rank's blob, indexed by rank (ring all-gather, nranks-1 steps).
  std::vector<std::string> allGather(const std::string& mine, Deadline deadline);
  void barrier(Deadline deadline);

 private:
  Bootstrap() = default;
  // The steps of connect.
  SocketAddress helloRoot(const UniqueId& id, const SocketAddress& rootAddr,
                          const SocketAddress& ringAddr, Deadline deadline);
  void connectNext(const UniqueId& id, const SocketAddress& nextAddr, Deadline deadline);
  void acceptPrev(const UniqueId& id, int listener, const SocketAddress& ringAddr,
                  Deadline deadline);
  void sendBlob(const std::string& blob, Deadline deadline);
  std::string recvBlob(Deadline deadline);

  int rank_ = 0;
  int nranks_ = 1;
  uint64_t commId_ = 0;
  Secret secret_{};
  Fd next_;
  Fd prev_;
  int prevRank_ = 0;
  int nextRank_ = 0;
  std::string nextAddress_;
  const std::atomic<bool>* abort_ = nullptr;
};

}  // namespace plexus::runtime
