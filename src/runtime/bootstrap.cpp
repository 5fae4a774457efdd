// Per-rank bootstrap: root handshake, ring, ring all-gather.
#include "runtime/bootstrap.hpp"

#include <unistd.h>

#include <cstring>

#include "base/error.hpp"
#include "base/log.hpp"
#include "runtime/op_args.hpp"
#include "runtime/protocol.hpp"
#include "runtime/root_service.hpp"

namespace plexus::runtime {
namespace {

WireAddress toWire(const SocketAddress& a) {
  WireAddress w{};
  w.length = a.length;
  std::memcpy(w.bytes, &a.storage, a.length);
  return w;
}

SocketAddress fromWire(const WireAddress& w) {
  if (w.length == 0 || w.length > sizeof(w.bytes))
    throwError(ErrorCode::kRemote, "bootstrap: malformed address from the root");
  return SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(w.bytes), w.length);
}

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

// Where this rank's ring listener goes: the interface that reaches the root (port 0).
SocketAddress ringAddressFor(const SocketAddress& rootAddr) {
  auto ifs = selectInterfaces();
  SocketAddress ringAddr = ifs.front().address;
  for (const auto& ni : ifs)
    if (ni.address.family() == rootAddr.family()) {
      ringAddr = ni.address;
      break;
    }
  if (rootAddr.isLoopback()) ringAddr = rootAddr;
  ringAddr.setPort(0);
  return ringAddr;
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
  SocketAddress ringAddr = ringAddressFor(rootAddr);
  Fd ringListener = listenOn(ringAddr);
  SocketAddress nextAddr = b->helloRoot(id, rootAddr, ringAddr, deadline);
  if (nranks == 1) return b;

  b->connectNext(id, nextAddr, deadline);
  b->acceptPrev(id, ringListener.get(), ringAddr, deadline);
  PLEXUS_INFO(subsys::kBootstrap, "rank %d of %d joined the bootstrap ring (next %s)", rank, nranks,
              b->nextAddress_.c_str());
  return b;
}

// Root handshake: sends this rank's ring address, learns the communicator id and the successor's
// ring address (returned; meaningless for one rank).
SocketAddress Bootstrap::helloRoot(const UniqueId& id, const SocketAddress& rootAddr,
                                   const SocketAddress& ringAddr, Deadline deadline) {
  std::string rootName = "the bootstrap root at " + rootAddr.toString();
  Fd root = connectTo(rootAddr, deadline, abort_, rootName);
  RootHello hello{};
  hello.magic = kRootHelloMagic;
  hello.version = kProtocolVersion;
  std::memcpy(hello.secret, id.secret.data(), 16);
  hello.nonce = id.nonce;
  hello.rank = rank_;
  hello.nranks = nranks_;
  hello.pid = static_cast<int32_t>(getpid());
  hello.ringAddress = toWire(ringAddr);
  sendAll(root.get(), &hello, sizeof(hello), deadline, abort_, rootName);
  RootReply reply{};
  // The root reports missing ranks at its own deadline; wait a little longer than that.
  Deadline replyDeadline = Deadline::after(deadline.remaining() + std::chrono::seconds(5));
  try {
    recvAll(root.get(), &reply, sizeof(reply), replyDeadline, abort_, rootName);
    reapRoots();  // a root in this process has answered every rank by now: join it
  } catch (const Error& e) {
    reapRoots();
    throwError(ErrorCode::kRemote,
               "rank %d of %d: no answer from %s (%s); the other ranks may not have started, or "
               "use a different unique id",
               rank_, nranks_, rootName.c_str(), e.what());
  }
  if (reply.ok == 0) {
    reply.message[sizeof(reply.message) - 1] = '\0';
    throwError(ErrorCode::kRemote, "rank %d of %d: bootstrap failed: %s", rank_, nranks_,
               reply.message);
  }
  commId_ = reply.commId;
  nextRank_ = (rank_ + 1) % nranks_;
  prevRank_ = (rank_ + nranks_ - 1) % nranks_;
  return nranks_ == 1 ? rootAddr : fromWire(reply.next);
}

// Ring, forward half: connect to the successor and present this job's secret.
void Bootstrap::connectNext(const UniqueId& id, const SocketAddress& nextAddr, Deadline deadline) {
  nextAddress_ = nextAddr.toString();
  std::string nextName = formatString("rank %d (bootstrap %s)", nextRank_, nextAddress_.c_str());
  next_ = connectTo(nextAddr, deadline, abort_, nextName);
  RingHello rh{};
  rh.magic = kRingHelloMagic;
  rh.fromRank = rank_;
  rh.commId = commId_;
  std::memcpy(rh.secret, id.secret.data(), 16);
  sendAll(next_.get(), &rh, sizeof(rh), deadline, abort_, nextName);
}

// Ring, backward half: accept the predecessor, dropping connections that do not present this
// job's secret and the expected rank.
void Bootstrap::acceptPrev(const UniqueId& id, int listener, const SocketAddress& ringAddr,
                           Deadline deadline) {
  while (!prev_) {
    Fd c = acceptOne(listener, deadline, abort_);
    if (!c)
      throwError(ErrorCode::kRemote,
                 "rank %d of %d: rank %d never connected to this rank's bootstrap listener %s "
                 "within PLEXUS_TIMEOUT; check that it is alive and can reach this host",
                 rank_, nranks_, prevRank_, ringAddr.toString().c_str());
    RingHello in{};
    try {
      recvAll(c.get(), &in, sizeof(in), Deadline::after(std::chrono::seconds(10)), abort_,
              "a connecting rank");
    } catch (const Error& e) {
      PLEXUS_WARN(subsys::kBootstrap, "rank %d: dropped a bootstrap connection: %s", rank_,
                  e.what());
      continue;
    }
    if (in.magic != kRingHelloMagic || in.commId != commId_ ||
        std::memcmp(in.secret, id.secret.data(), 16) != 0 || in.fromRank != prevRank_) {
      PLEXUS_WARN(subsys::kBootstrap,
                  "rank %d: dropped a bootstrap connection that did not present this job's "
                  "secret and expected rank",
                  rank_);
      continue;
    }
    prev_ = std::move(c);
  }
}

Bootstrap::~Bootstrap() = default;

void Bootstrap::sendBlob(const std::string& blob, Deadline deadline) {
  uint64_t n = blob.size();
  std::string what = formatString("rank %d (bootstrap %s)", nextRank_, nextAddress_.c_str());
  sendAll(next_.get(), &n, sizeof(n), deadline, abort_, what);
  if (n > 0) sendAll(next_.get(), blob.data(), blob.size(), deadline, abort_, what);
}

std::string Bootstrap::recvBlob(Deadline deadline) {
  std::string what = formatString("rank %d (bootstrap ring)", prevRank_);
  uint64_t n = 0;
  recvAll(prev_.get(), &n, sizeof(n), deadline, abort_, what);
  if (n > (1ull << 32))
    throwError(ErrorCode::kRemote, "rank %d: %s sent an impossible blob size", rank_, what.c_str());
  std::string blob(n, '\0');
  if (n > 0) recvAll(prev_.get(), blob.data(), n, deadline, abort_, what);
  return blob;
}

std::vector<std::string> Bootstrap::allGather(const std::string& mine, Deadline deadline) {
  std::vector<std::string> all(static_cast<size_t>(nranks_));
  all[static_cast<size_t>(rank_)] = mine;
  // Step k: pass on the blob of rank (rank - k), receive the one of (rank - k - 1).
  for (int k = 0; k < nranks_ - 1; ++k) {
    int sendIdx = (rank_ - k + nranks_) % nranks_;
    int recvIdx = (rank_ - k - 1 + nranks_) % nranks_;
    sendBlob(all[static_cast<size_t>(sendIdx)], deadline);
    all[static_cast<size_t>(recvIdx)] = recvBlob(deadline);
  }
  return all;
}

void Bootstrap::barrier(Deadline deadline) {
  allGather(std::string(), deadline);
}

}  // namespace plexus::runtime
