// The bootstrap's links and log-round collectives, threads as ranks: exact all-gathers at many
// world sizes (powers of two and not), blobs of varying lengths (empty too), repeated calls on one
// bootstrap, the barrier, and the failures: a rank that never links up, one that never joins an
// all-gather, an abort, each ending within its deadline with an error naming the peer, and a rank
// whose listener is gone, named (host and pid) long before the deadline.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/error.hpp"
#include "base/host_id.hpp"
#include "runtime/bootstrap.hpp"
#include "runtime/bootstrap_exchange.hpp"
#include "runtime/bootstrap_links.hpp"
#include "runtime/protocol.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

// How the bootstrap names a peer rank of this process (threads as ranks) whose host and pid the
// root passed on: "rank P (host H, pid X, bootstrap 127.0.0.1:".
std::string namedPeer(int peer) {
  return "rank " + std::to_string(peer) + " (host " + hostName() + ", pid " +
         std::to_string(getpid()) + ", bootstrap 127.0.0.1:";
}

// Runs body(rank) on one thread per rank; returns each rank's error message ("" when none).
std::vector<std::string> runThreads(int n, const std::function<void(int)>& body) {
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        body(r);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

// Rank r's blob in call c: a length from 0 to 60 (several ranks send empty blobs), bytes that
// name the rank, the call and the position.
std::string blobOf(int rank, int call) {
  size_t len = static_cast<size_t>((rank * 7 + call * 3) % 5) * 15;
  std::string b(len, '\0');
  for (size_t i = 0; i < len; ++i) b[i] = static_cast<char>((rank * 31 + call * 17 + i) & 0xff);
  return b;
}

class BootstrapSizes : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { setenv("PLEXUS_SOCKET_IFNAME", "lo", 1); }
};

TEST_P(BootstrapSizes, RepeatedAllGathersAndBarriersAreExact) {
  const int n = GetParam();
  constexpr int kCalls = 3;
  UniqueId id = createRootAndId();
  std::vector<std::vector<std::vector<std::string>>> got(static_cast<size_t>(n));
  std::vector<uint64_t> ids(static_cast<size_t>(n));
  std::atomic<int> arrived{0};
  std::vector<int> arrivedAfterBarrier(static_cast<size_t>(n), -1);
  auto errors = runThreads(n, [&](int r) {
    Deadline deadline = Deadline::after(seconds(60));
    auto b = Bootstrap::connect(id, r, n, deadline, nullptr);
    ids[static_cast<size_t>(r)] = b->commId();
    for (int c = 0; c < kCalls; ++c)
      got[static_cast<size_t>(r)].push_back(b->allGather(blobOf(r, c), deadline));
    // Rank 0 comes late: nobody may leave the barrier before every rank entered it.
    if (r == 0) std::this_thread::sleep_for(milliseconds(200));
    arrived.fetch_add(1);
    b->barrier(deadline);
    arrivedAfterBarrier[static_cast<size_t>(r)] = arrived.load();
    // The links still work after a barrier.
    auto last = b->allGather(std::to_string(r), deadline);
    for (int k = 0; k < n; ++k)
      if (last[static_cast<size_t>(k)] != std::to_string(k))
        throw Error(ErrorCode::kInternal, "wrong blob after the barrier");
  });
  for (int r = 0; r < n; ++r) {
    ASSERT_EQ(errors[static_cast<size_t>(r)], "") << "rank " << r;
    EXPECT_EQ(ids[static_cast<size_t>(r)], ids[0]);
    EXPECT_EQ(arrivedAfterBarrier[static_cast<size_t>(r)], n) << "rank " << r;
    ASSERT_EQ(got[static_cast<size_t>(r)].size(), static_cast<size_t>(kCalls));
    for (int c = 0; c < kCalls; ++c) {
      const auto& all = got[static_cast<size_t>(r)][static_cast<size_t>(c)];
      ASSERT_EQ(all.size(), static_cast<size_t>(n));
      for (int k = 0; k < n; ++k)
        EXPECT_EQ(all[static_cast<size_t>(k)], blobOf(k, c))
            << "rank " << r << " call " << c << " blob of rank " << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, BootstrapSizes, ::testing::Values(1, 2, 3, 5, 7, 8, 13, 64));

// Blobs far larger than a socket buffer: every round sends and receives at once, so ranks that
// all send first cannot stall one another.
TEST(BootstrapLinks, LargeBlobsDoNotStall) {
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  const int n = 6;
  const size_t len = size_t{4} << 20;
  UniqueId id = createRootAndId();
  auto blob = [&](int r) {
    std::string b(len, '\0');
    for (size_t i = 0; i < len; ++i)
      b[i] = static_cast<char>((i * 13 + static_cast<size_t>(r)) & 0xff);
    return b;
  };
  std::vector<int> wrong(n, -1);
  auto errors = runThreads(n, [&](int r) {
    Deadline deadline = Deadline::after(seconds(60));
    auto b = Bootstrap::connect(id, r, n, deadline, nullptr);
    auto all = b->allGather(blob(r), deadline);
    int bad = 0;
    for (int k = 0; k < n; ++k) bad += all[static_cast<size_t>(k)] == blob(k) ? 0 : 1;
    wrong[static_cast<size_t>(r)] = bad;
  });
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(errors[static_cast<size_t>(r)], "") << "rank " << r;
    EXPECT_EQ(wrong[static_cast<size_t>(r)], 0) << "rank " << r;
  }
}

TEST(BootstrapLinks, RoundsAndPeers) {
  EXPECT_EQ(bootstrapRounds(1), 0);
  EXPECT_EQ(bootstrapRounds(2), 1);
  EXPECT_EQ(bootstrapRounds(3), 2);
  EXPECT_EQ(bootstrapRounds(8), 3);
  EXPECT_EQ(bootstrapRounds(13), 4);
  EXPECT_EQ(bootstrapRounds(576), 10);
  EXPECT_EQ(bootstrapPeer(0, 13, 3, +1), 8);
  EXPECT_EQ(bootstrapPeer(0, 13, 3, -1), 5);
  EXPECT_EQ(bootstrapPeer(12, 13, 0, +1), 0);
  EXPECT_EQ(bootstrapPeer(2, 3, 1, -1), 0);
}

// Rank `rank` of `n` as seen by the root, which never links up with any other rank: it
// registers a listener it never accepts on and connects to nobody.
class SilentRank {
 public:
  SilentRank(const UniqueId& id, int rank, int n) {
    listenAddr_ = *SocketAddress::parse("127.0.0.1:0");
    listener_ = listenOn(listenAddr_);
    root_ = connectTo(id.root, Deadline::after(seconds(10)), nullptr, "the root");
    RootHello h{};
    h.magic = kRootHelloMagic;
    h.version = kProtocolVersion;
    std::memcpy(h.secret, id.secret.data(), sizeof(h.secret));
    h.nonce = id.nonce;
    h.rank = rank;
    h.nranks = n;
    h.pid = 0;
    h.listenAddress.length = listenAddr_.length;
    std::memcpy(h.listenAddress.bytes, &listenAddr_.storage, listenAddr_.length);
    sendAll(root_.get(), &h, sizeof(h), Deadline::after(seconds(10)), nullptr, "the root");
  }
  std::string address() const { return listenAddr_.toString(); }

 private:
  SocketAddress listenAddr_;
  Fd listener_;
  Fd root_;
};

// A link this rank reads from as a socketpair end (the peer's end is returned), named rank `peer`.
Fd linkPair(BootstrapLink& link, int peer) {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  link.fd = Fd(sv[0]);
  link.peer = peer;
  link.address = "127.0.0.1:1";
  return Fd(sv[1]);
}

void writeFrame(int fd, const std::string& body) {
  const uint64_t length = body.size();
  std::string wire(reinterpret_cast<const char*>(&length), sizeof(length));
  wire += body;
  ASSERT_EQ(::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL), static_cast<ssize_t>(wire.size()));
}

std::string checkError(const BootstrapLink& link, bool hungUp) {
  try {
    checkIncoming(link, hungUp, "rank 0 of 4");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The race CI met: rank 1's round-0 message to rank 0 went out whole, then rank 1 timed out on
// rank 2 and closed, while rank 0 still accepted links. Rank 0 must read rank 1's reason behind
// the message, not only that rank 1 closed.
TEST(BootstrapNotices, AGiveUpBehindWholeMessagesIsFoundOnHangUp) {
  for (size_t size : {size_t{0}, size_t{37}, size_t{100000}}) {
    BootstrapLink link;
    Fd peer = linkPair(link, 1);
    writeFrame(peer.get(), std::string(size, 'm'));
    EXPECT_EQ(checkError(link, false), "") << size;  // a message alone is no news
    sendGivingUp(BootstrapLink{std::move(peer), 0, "", "", 0, 0}, "rank 1 of 4: lost rank 2");
    const std::string e = checkError(link, true);
    EXPECT_TRUE(contains(e,
                         "rank 0 of 4: rank 1 (bootstrap 127.0.0.1:1) gave up on this "
                         "bootstrap call: rank 1 of 4: lost rank 2"))
        << size << ": " << e;
  }
  // Without a notice, a hang-up still says the peer is gone.
  BootstrapLink link;
  {
    Fd peer = linkPair(link, 1);
    writeFrame(peer.get(), "abc");
  }
  EXPECT_TRUE(
      contains(checkError(link, true), "rank 1 (bootstrap 127.0.0.1:1) is gone: it closed"));
}

// An exchange that fails after its message went out whole sends the reason after it.
TEST(BootstrapNotices, AFailedExchangeFollowsItsWholeMessageWithTheReason) {
  BootstrapLink to;
  BootstrapLink from;
  Fd toPeer = linkPair(to, 3);
  Fd fromPeer = linkPair(from, 2);  // sends nothing
  EXPECT_THROW(
      exchangeMessage(to, "hello", from, Deadline::after(milliseconds(50)), nullptr, "rank 1 of 4"),
      Error);
  BootstrapLink reader{std::move(toPeer), 1, "127.0.0.1:1", "", 0, 0};
  to.fd.reset();
  const std::string e = checkError(reader, true);
  EXPECT_TRUE(contains(e,
                       "rank 1 (bootstrap 127.0.0.1:1) gave up on this bootstrap call: rank 1 "
                       "of 4: bootstrap receive from rank 2 (bootstrap 127.0.0.1:1) timed out"))
      << e;
}

TEST(BootstrapFailures, ARankThatNeverLinksUpIsNamedWithinTheDeadline) {
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  const int n = 4;
  UniqueId id = createRootAndId();
  SilentRank silent(id, 2, n);
  const auto start = Clock::now();
  auto errors = runThreads(n, [&](int r) {
    if (r == 2) return;
    // Links are made by each call (the first is init's all-gather): a barrier stands for it.
    const Deadline deadline = Deadline::after(seconds(3));
    Bootstrap::connect(id, r, n, deadline, nullptr)->barrier(deadline);
  });
  // Ranks 3 and 0 (2 + 1, 2 + 2) wait for rank 2's links; they fail naming it and its address.
  for (int r : {0, 3}) {
    const std::string& e = errors[static_cast<size_t>(r)];
    EXPECT_TRUE(contains(e, "rank " + std::to_string(r) + " of 4")) << e;
    // Either itself, or through the rank that timed out first and told it why (a rank gives up
    // on the others' behalf: bootstrap_give_up.hpp).
    EXPECT_TRUE(contains(e, "rank 2 (bootstrap " + silent.address() + ") never connected") ||
                contains(e, "receive from rank 2 (bootstrap " + silent.address() + ") timed out"))
        << e;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_LT(elapsed, 3.0 + 2.0);
}

TEST(BootstrapFailures, ARankMissingFromAnAllGatherIsNamedAtTheDeadline) {
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  const int n = 3;
  UniqueId id = createRootAndId();
  std::atomic<int> linked{0};
  const auto start = Clock::now();
  auto errors = runThreads(n, [&](int r) {
    auto b = Bootstrap::connect(id, r, n, Deadline::after(seconds(20)), nullptr);
    linked.fetch_add(1);
    if (r == 2) {
      // Stays linked but never joins the all-gather, until the others gave up.
      auto until = Clock::now() + seconds(30);
      while (linked.load() < n + 2 && Clock::now() < until)
        std::this_thread::sleep_for(milliseconds(10));
      return;
    }
    try {
      b->allGather("x", Deadline::after(seconds(2)));
    } catch (...) {
      linked.fetch_add(1);
      throw;
    }
  });
  for (int r : {0, 1}) {
    const std::string& e = errors[static_cast<size_t>(r)];
    EXPECT_TRUE(contains(e, "rank " + std::to_string(r) + " of 3")) << e;
    // The root told every rank who listens where: rank 2 is named with its host and pid.
    EXPECT_TRUE(contains(e, namedPeer(2))) << e;
    // Links are made per call: the absent rank is missed at linking (or, had it linked, in a
    // round), either way named and within the call's deadline.
    EXPECT_TRUE(contains(e, "timed out") || contains(e, "never connected")) << e;
  }
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 20.0);
}

TEST(BootstrapFailures, AnAbortEndsAWaitingAllGather) {
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  const int n = 2;
  UniqueId id = createRootAndId();
  std::atomic<bool> abort{false};
  std::atomic<bool> done{false};
  std::atomic<int> linked{0};
  double took = 0;
  auto errors = runThreads(n, [&](int r) {
    auto b = Bootstrap::connect(id, r, n, Deadline::after(seconds(20)), &abort);
    linked.fetch_add(1);
    if (r == 1) {
      // Rank 1 never joins the all-gather; it aborts rank 0's wait once both are linked.
      while (linked.load() < n) std::this_thread::sleep_for(milliseconds(1));
      std::this_thread::sleep_for(milliseconds(200));
      abort.store(true);
      auto until = Clock::now() + seconds(30);
      while (!done.load() && Clock::now() < until) std::this_thread::sleep_for(milliseconds(10));
      return;
    }
    const auto start = Clock::now();
    try {
      b->allGather("x", Deadline::after(seconds(60)));
    } catch (...) {
      took = std::chrono::duration<double>(Clock::now() - start).count();
      done.store(true);
      throw;
    }
    done.store(true);
  });
  EXPECT_TRUE(contains(errors[0], "aborted")) << errors[0];
  EXPECT_TRUE(contains(errors[0], "rank 1 (host " + hostName())) << errors[0];
  EXPECT_LT(took, 10.0);
}

// A rank that joined and then went away (its listener closed: the process exited or was killed)
// refuses the others' links: they fail within a few seconds, not at their deadline, naming it with
// its host and pid.
TEST(BootstrapFailures, ARankWhoseListenerIsGoneIsNamedLongBeforeTheDeadline) {
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  const int n = 3;
  UniqueId id = createRootAndId();
  std::atomic<int> joined{0};
  std::atomic<bool> closed{false};
  std::vector<double> took(n, 0);
  auto errors = runThreads(n, [&](int r) {
    auto b = Bootstrap::connect(id, r, n, Deadline::after(seconds(20)), nullptr);
    joined.fetch_add(1);
    while (joined.load() < n) std::this_thread::sleep_for(milliseconds(1));
    // The gone rank's listener is closed before the others link: had they linked first (the
    // connection queued in its backlog), the rank would be named as one that closed its link.
    if (r == 1) {
      b.reset();
      closed.store(true);
      return;
    }
    while (!closed.load()) std::this_thread::sleep_for(milliseconds(1));
    const auto start = Clock::now();
    try {
      b->allGather("x", Deadline::after(seconds(60)));
    } catch (...) {
      took[static_cast<size_t>(r)] = std::chrono::duration<double>(Clock::now() - start).count();
      throw;
    }
  });
  // Rank 0 links to rank 1 in round 0, rank 2 in round 1 (after rank 0, which is still there).
  for (int r : {0, 2}) {
    const std::string& e = errors[static_cast<size_t>(r)];
    EXPECT_TRUE(contains(e, "rank " + std::to_string(r) + " of 3")) << e;
    EXPECT_TRUE(contains(e, namedPeer(1))) << e;
    EXPECT_TRUE(contains(e, "is gone: its bootstrap listener refused the connection")) << e;
    // A grace of kListenerRefusedGrace (1.5 s), far below the 60 s deadline, even when loaded.
    EXPECT_LT(took[static_cast<size_t>(r)], 20.0) << e;
    EXPECT_GE(took[static_cast<size_t>(r)], 1.0) << e;
  }
}

// In a larger job not every rank links to the lost one: some only wait for ranks that do. Those
// give up on the call and tell the ranks that wait for them why, so every rank fails fast and
// names the lost rank (8 ranks, rank 5 gone: ranks 4, 3 and 1 link to it; the others learn it
// from them).
TEST(BootstrapFailures, EveryRankNamesTheGoneRankLongBeforeTheDeadline) {
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  const int n = 8;
  const int gone = 5;
  UniqueId id = createRootAndId();
  std::atomic<int> joined{0};
  std::atomic<bool> closed{false};
  std::vector<double> took(n, 0);
  auto errors = runThreads(n, [&](int r) {
    auto b = Bootstrap::connect(id, r, n, Deadline::after(seconds(20)), nullptr);
    joined.fetch_add(1);
    while (joined.load() < n) std::this_thread::sleep_for(milliseconds(1));
    if (r == gone) {  // its listener closed before the others link (as above)
      b.reset();
      closed.store(true);
      return;
    }
    while (!closed.load()) std::this_thread::sleep_for(milliseconds(1));
    const auto start = Clock::now();
    try {
      b->allGather("x", Deadline::after(seconds(60)));
    } catch (...) {
      took[static_cast<size_t>(r)] = std::chrono::duration<double>(Clock::now() - start).count();
      throw;
    }
  });
  for (int r = 0; r < n; ++r) {
    if (r == gone) continue;
    const std::string& e = errors[static_cast<size_t>(r)];
    EXPECT_TRUE(contains(e, "rank " + std::to_string(r) + " of 8")) << e;
    EXPECT_TRUE(contains(e, "rank 5 (host " + hostName())) << e;
    EXPECT_TRUE(contains(e, "is gone: its bootstrap listener refused the connection")) << e;
    EXPECT_LT(took[static_cast<size_t>(r)], 20.0) << e;
  }
}

}  // namespace
}  // namespace plexus::runtime
