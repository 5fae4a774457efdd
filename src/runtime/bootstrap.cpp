// Per-rank bootstrap: root handshake, links to the ranks 2^k away, Bruck all-gather and
// dissemination barrier over them.
#include "runtime/bootstrap.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/host_id.hpp"
#include "base/log.hpp"
#include "runtime/bootstrap_exchange.hpp"
#include "runtime/bootstrap_give_up.hpp"
#include "runtime/bootstrap_wire.hpp"
#include "runtime/op_args.hpp"
#include "runtime/protocol.hpp"
#include "runtime/root_service.hpp"

namespace plexus::runtime {
namespace {

// Rank 0 starts the root when the id says so (NCCL_COMM_ID style); returns the root's address.
SocketAddress startRootIfMine(const UniqueId& id, int rank) {
  if (!id.rootStartedByRank0 || rank != 0) return id.root;
  SocketAddress bindAddr = id.root;
  Fd listener;
  try {
    listener = listenOn(bindAddr);
  } catch (const Error& e) {
    throwError(ErrorCode::kSystem,
               "rank 0 cannot start the bootstrap root on %s (PLEXUS_COMM_ID / MASTER_ADDR): %s",
               id.root.toString().c_str(), e.what());
  }
  PLEXUS_INFO(subsys::kBootstrap, "rank 0 started the bootstrap root on %s",
              bindAddr.toString().c_str());
  startRoot(std::move(listener), id.secret, id.nonce, bindAddr);
  return bindAddr;
}

// Where this rank's bootstrap listener goes: the interface that reaches the root (port 0).
SocketAddress listenAddressFor(const SocketAddress& rootAddr) {
  auto ifs = selectInterfaces();
  SocketAddress addr = ifs.front().address;
  for (const auto& ni : ifs)
    if (ni.address.family() == rootAddr.family()) {
      addr = ni.address;
      break;
    }
  if (rootAddr.isLoopback()) addr = rootAddr;
  addr.setPort(0);
  return addr;
}

// Waits this rank's turn to reach the root (rootConnectDelay), honouring the abort flag.
void staggerRootConnect(int rank, Deadline deadline, const std::atomic<bool>* abort) {
  auto until = Clock::now() + rootConnectDelay(rank);
  while (Clock::now() < until && !deadline.expired() &&
         (abort == nullptr || !abort->load(std::memory_order_relaxed)))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

}  // namespace

std::unique_ptr<Bootstrap> Bootstrap::connect(const UniqueId& id, int rank, int nranks,
                                              Deadline deadline, const std::atomic<bool>* abort) {
  runtime::checkRankArgs(rank, nranks, "bootstrap");
  std::unique_ptr<Bootstrap> b(new Bootstrap());
  b->rank_ = rank;
  b->nranks_ = nranks;
  b->secret_ = id.secret;
  b->abort_ = abort;

  SocketAddress rootAddr = startRootIfMine(id, rank);
  SocketAddress listenAddr = listenAddressFor(rootAddr);
  Fd listener = listenOn(listenAddr);
  std::vector<LinkPeer> ahead, behind;
  b->helloRoot(id, rootAddr, listenAddr, deadline, ahead, behind);
  if (nranks == 1) return b;

  // Every listener exists before the root answers anyone, so the links each call makes only wait
  // for the kernel; each listener takes ceil(log2 N) connections per call.
  b->listener_ = std::move(listener);
  b->listenAddr_ = listenAddr;
  b->aheadPeers_ = std::move(ahead);
  b->behindPeers_ = std::move(behind);
  PLEXUS_INFO(subsys::kBootstrap,
              "rank %d of %d joined the bootstrap: all-gather in %zu rounds over links made per "
              "call (first peer rank %d at %s)",
              rank, nranks, b->aheadPeers_.size(), bootstrapPeer(rank, nranks, 0, +1),
              b->aheadPeers_.front().address.toString().c_str());
  return b;
}

// Root handshake: sends this rank's listener address, learns the communicator id and the
// listeners of the ranks 2^k ahead and behind.
void Bootstrap::helloRoot(const UniqueId& id, const SocketAddress& rootAddr,
                          const SocketAddress& listenAddr, Deadline deadline,
                          std::vector<LinkPeer>& ahead, std::vector<LinkPeer>& behind) {
  std::string rootName = "the bootstrap root at " + rootAddr.toString();
  staggerRootConnect(rank_, deadline, abort_);
  Fd root;
  try {
    root = connectTo(rootAddr, deadline, abort_, "the bootstrap root");
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kRemote) throw;
    // Where the address came from, and what to do about it.
    const auto commId = envGet("COMM_ID");
    throw Error(e.code(), std::string(e.what()) + "; the root runs in rank 0's process" +
                              (commId ? " at PLEXUS_COMM_ID (or NCCL_COMM_ID)='" + *commId + "'"
                                      : " at the address in rank 0's unique id") +
                              ": start rank 0 (with the same address) or fix the address");
  }
  RootHello hello{};
  hello.magic = kRootHelloMagic;
  hello.version = kProtocolVersion;
  std::memcpy(hello.secret, id.secret.data(), 16);
  hello.nonce = id.nonce;
  hello.rank = rank_;
  hello.nranks = nranks_;
  hello.pid = static_cast<int32_t>(getpid());
  hello.listenAddress = addressToWire(listenAddr);
  hello.pidSpace = bootstrapPidSpace();
  hostToWire(hostName(), hello.host);
  sendAll(root.get(), &hello, sizeof(hello), deadline, abort_, rootName);
  RootReply reply{};
  std::vector<WireAddress> peers;
  std::vector<WireRank> who;
  // The root reports missing ranks at its own deadline; wait a little longer than that.
  Deadline replyDeadline = Deadline::after(deadline.remaining() + std::chrono::seconds(5));
  try {
    recvAll(root.get(), &reply, sizeof(reply), replyDeadline, abort_, rootName);
    if (std::string problem = rootReplyProblem(reply, nranks_); !problem.empty())
      throwError(ErrorCode::kRemote, "%s", problem.c_str());
    if (reply.ok != 0) {
      peers.resize(2 * size_t{reply.rounds});
      recvAll(root.get(), peers.data(), peers.size() * sizeof(WireAddress), replyDeadline, abort_,
              rootName);
      who.resize(peers.size());
      recvAll(root.get(), who.data(), who.size() * sizeof(WireRank), replyDeadline, abort_,
              rootName);
    }
    reapRoots();  // a root in this process has answered every rank by now: join it
  } catch (const Error& e) {
    reapRoots();
    throwError(ErrorCode::kRemote,
               "rank %d of %d: no answer from %s (%s); the other ranks may not have started, or "
               "use a different unique id or PLEXUS_SECRET (the root drops a rank whose secret "
               "differs: set it alike on every rank, or unset it on all)",
               rank_, nranks_, rootName.c_str(), e.what());
  }
  if (reply.ok == 0) {
    throwError(ErrorCode::kRemote, "rank %d of %d: bootstrap failed: %s", rank_, nranks_,
               rootRefusal(reply).c_str());
  }
  commId_ = reply.commId;
  std::vector<SocketAddress> aheadAddrs, behindAddrs;
  decodeRootPeers(peers, reply.rounds, aheadAddrs, behindAddrs);
  for (size_t i = 0; i < who.size(); ++i) {
    const bool isAhead = i < aheadAddrs.size();
    const SocketAddress& a = isAhead ? aheadAddrs[i] : behindAddrs[i - aheadAddrs.size()];
    (isAhead ? ahead : behind)
        .push_back(LinkPeer{a, hostFromWire(who[i].host), who[i].pid, who[i].pidSpace});
  }
}

Bootstrap::~Bootstrap() = default;

std::string Bootstrap::self() const {
  return formatString("rank %d of %d", rank_, nranks_);
}

// A rank finishes a call only after every rank has sent in it, and a rank sends only once its
// links of that call are accepted: a connection of the next call can wait in the listener's
// backlog but never meets this call's acceptor. Closing at the end loses nothing: every byte sent
// on a link is read by its peer before that peer returns, and no link carries data both ways.
Bootstrap::Links Bootstrap::link(Deadline deadline) {
  Links l;
  if (nranks_ == 1) return l;
  return linkWith(LinkSetup{rank_, nranks_, commId_, secret_, abort_}, aheadPeers_, behindPeers_,
                  deadline);
}

// Whichever half fails, the ranks that wait for this one are told why (bootstrap_give_up.hpp):
// connectLinks tells those ahead; the ranks behind that linked up wait in the listen backlog.
Bootstrap::Links Bootstrap::linkWith(const LinkSetup& s, const std::vector<LinkPeer>& ahead,
                                     const std::vector<LinkPeer>& behind, Deadline deadline) {
  Links l;
  l.setup = s;
  try {
    l.ahead = connectLinks(s, ahead, deadline);
  } catch (const Error& e) {
    answerBacklogGivingUp(s, listener_.get(), e.what());
    throw;
  }
  try {
    l.behind = acceptLinks(s, listener_.get(), listenAddr_, behind, l.ahead, deadline);
  } catch (const Error& e) {
    tellLinkedGivingUp(s, l.ahead, e.what());
    answerBacklogGivingUp(s, listener_.get(), e.what());
    throw;
  }
  return l;
}

std::vector<std::string> Bootstrap::allGather(const std::string& mine, Deadline deadline) {
  return bruck(link(deadline), rank_, nranks_, mine, deadline, abort_, self());
}

std::vector<std::string> Bootstrap::bruck(const Links& l, int rank, int nranks,
                                          const std::string& mine, Deadline deadline,
                                          const std::atomic<bool>* abort, const std::string& who) {
  // held[i] is the blob of rank (rank + i) % nranks; after round k it has min(2^(k+1), N) blobs.
  std::vector<std::string> held;
  held.reserve(static_cast<size_t>(nranks));
  held.push_back(mine);
  for (size_t k = 0; k < l.ahead.size(); ++k) {
    const size_t d = size_t{1} << k;
    const size_t count = std::min(d, static_cast<size_t>(nranks) - d);
    try {
      std::string in = exchangeMessage(l.behind[k], encodeBlobs(held, 0, count), l.ahead[k],
                                       deadline, abort, who);
      decodeBlobs(in, count, held, who + ": " + l.ahead[k].name());
    } catch (const Error& e) {
      giveUpLaterRounds(l, k, e.what());
      throw;
    }
  }
  std::vector<std::string> all(static_cast<size_t>(nranks));
  for (size_t i = 0; i < held.size(); ++i)
    all[(static_cast<size_t>(rank) + i) % all.size()] = std::move(held[i]);
  return all;
}

void Bootstrap::giveUpLaterRounds(const Links& l, size_t failed, const std::string& reason) {
  // The ranks this one sends to after round `failed` wait for it; the one of that round has its
  // message and the notice after it (exchangeMessage), or part of it (no notice can follow then).
  for (size_t k = failed + 1; k < l.behind.size(); ++k) sendGivingUp(l.behind[k], reason);
  // Ranks ahead that are still accepting links.
  tellLinkedGivingUp(l.setup, l.ahead, reason);
}

void Bootstrap::barrier(Deadline deadline) {
  const std::string who = self();
  const Links l = link(deadline);
  for (size_t k = 0; k < l.ahead.size(); ++k) {
    std::string in;
    try {
      in = exchangeMessage(l.behind[k], std::string(), l.ahead[k], deadline, abort_, who);
    } catch (const Error& e) {
      giveUpLaterRounds(l, k, e.what());
      throw;
    }
    if (!in.empty())
      throwError(ErrorCode::kRemote,
                 "%s: %s sent %zu bytes in a bootstrap barrier: the ranks are not in the same "
                 "bootstrap call (all-gather vs barrier)",
                 who.c_str(), l.ahead[k].name().c_str(), in.size());
  }
}

std::vector<std::string> Bootstrap::allGatherAmong(const std::vector<int>& members,
                                                   const std::vector<KnownPeer>& peers,
                                                   uint64_t tag, const std::string& mine,
                                                   Deadline deadline) {
  const int m = static_cast<int>(members.size());
  const auto at = std::find(members.begin(), members.end(), rank_);
  if (at == members.end())
    throwError(ErrorCode::kInternal, "%s: all-gather among ranks that exclude this one",
               self().c_str());
  const int me = static_cast<int>(at - members.begin());
  if (m == 1) return {mine};
  // Links are named by the members' ranks of this bootstrap, so errors name the ranks users know.
  auto peerAt = [&](int position) {
    const int r = members[static_cast<size_t>(position)];
    const KnownPeer& p = peers[static_cast<size_t>(r)];
    auto a = SocketAddress::parse(p.listener);
    if (!a)
      throwError(ErrorCode::kInternal, "%s: rank %d's bootstrap listener '%s' is unreadable",
                 self().c_str(), r, p.listener.c_str());
    return LinkPeer{*a, p.host, p.pid, 0};
  };
  std::vector<LinkPeer> ahead, behind;
  for (int k = 0; k < bootstrapRounds(m); ++k) {
    ahead.push_back(peerAt(bootstrapPeer(me, m, k, +1)));
    behind.push_back(peerAt(bootstrapPeer(me, m, k, -1)));
  }
  Links l = linkWith(LinkSetup{me, m, tag, secret_, nullptr}, ahead, behind, deadline);
  for (auto* side : {&l.ahead, &l.behind})
    for (BootstrapLink& link : *side) link.peer = members[static_cast<size_t>(link.peer)];
  return bruck(l, me, m, mine, deadline, nullptr,
               formatString("rank %d of %d (among %d survivors)", rank_, nranks_, m));
}

}  // namespace plexus::runtime
