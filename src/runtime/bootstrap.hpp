// Per-rank bootstrap: meets the root, links to ceil(log2 N) other ranks, and offers out-of-band
// collectives over those links (all-gather of byte blobs, barrier) for init, split and connection
// setup, each in ceil(log2 N) rounds.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "base/deadline.hpp"
#include "base/socket.hpp"
#include "runtime/bootstrap_links.hpp"
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

  // Every rank's blob, indexed by rank (Bruck all-gather: round k sends what this rank holds to
  // rank - 2^k and receives from rank + 2^k; ceil(log2 nranks) rounds).
  std::vector<std::string> allGather(const std::string& mine, Deadline deadline);
  // Dissemination barrier over the same pattern of links (ceil(log2 nranks) rounds).
  void barrier(Deadline deadline);

  // Where this rank accepts links ("" for a single rank): peers need it for allGatherAmong.
  std::string listenAddress() const { return nranks_ > 1 ? listenAddr_.toString() : ""; }
  // A rank as allGatherAmong knows it: its listener (from listenAddress()) and, for messages,
  // its host and pid ("" and 0 when unknown).
  struct KnownPeer {
    std::string listener;
    std::string host;
    int pid = 0;
  };
  // An all-gather among `members` only (ranks of this bootstrap, ascending, this rank among them;
  // the others may be dead), over links to their listeners (`peers`, indexed by rank) introduced
  // with `tag` in place of the communicator id, so that they cannot be taken for links of another
  // call. Blobs come back indexed by position in `members`; errors name a peer by rank, host, pid
  // and listener. Bounded by `deadline` only: it serves communicators that were aborted
  // (ncclCommShrink).
  std::vector<std::string> allGatherAmong(const std::vector<int>& members,
                                          const std::vector<KnownPeer>& peers, uint64_t tag,
                                          const std::string& mine, Deadline deadline);

 private:
  Bootstrap() = default;
  // Root handshake: sends this rank's listener address; learns the communicator id and the
  // listeners of the ranks 2^k ahead (`ahead`) and behind (`behind`).
  void helloRoot(const UniqueId& id, const SocketAddress& rootAddr, const SocketAddress& listenAddr,
                 Deadline deadline, std::vector<LinkPeer>& ahead, std::vector<LinkPeer>& behind);
  std::string self() const;

  int rank_ = 0;
  int nranks_ = 1;
  uint64_t commId_ = 0;
  Secret secret_{};
  // The links of one call: round k receives on ahead[k] (connected to rank + 2^k) and sends on
  // behind[k] (accepted from rank - 2^k). They are made per call and closed at its end, so that a
  // rank holds one listener between calls: 576 ranks as threads of one process would otherwise
  // hold 2 x 10 x 576 descriptors for the communicator's life.
  struct Links {
    LinkSetup setup;
    std::vector<BootstrapLink> ahead;
    std::vector<BootstrapLink> behind;
  };
  Links link(Deadline deadline);
  Links linkWith(const LinkSetup& s, const std::vector<LinkPeer>& ahead,
                 const std::vector<LinkPeer>& behind, Deadline deadline);
  // After an exchange failed in round `failed`: tells the ranks of the later rounds why
  // (sendGivingUp), so that they do not wait for their deadline.
  static void giveUpLaterRounds(const Links& l, size_t failed, const std::string& reason);
  // The Bruck all-gather over `l`, as rank `rank` of `nranks`; blobs indexed by that rank.
  static std::vector<std::string> bruck(const Links& l, int rank, int nranks,
                                        const std::string& mine, Deadline deadline,
                                        const std::atomic<bool>* abort, const std::string& who);

  Fd listener_;
  SocketAddress listenAddr_;
  std::vector<LinkPeer> aheadPeers_;   // listeners of ranks rank + 2^k
  std::vector<LinkPeer> behindPeers_;  // listeners of ranks rank - 2^k (named in errors)
  const std::atomic<bool>* abort_ = nullptr;
};

}  // namespace plexus::runtime
