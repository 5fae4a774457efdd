// Bad bytes where the bootstrap expects a peer's: an absurd length prefix on a bootstrap link
// allocates no more than a bounded amount before the stream ends; introductions with an absurd
// rank count, a foreign secret or a malformed address are refused by the checks the root and the
// ranks apply (runtime/bootstrap_wire.hpp), a unique id that holds no IP address is refused, and a
// flood of silent connections to the root costs it a bounded number of descriptors.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "../common/peak_memory.hpp"
#include "base/error.hpp"
#include "runtime/bootstrap_exchange.hpp"
#include "runtime/bootstrap_links.hpp"
#include "runtime/bootstrap_wire.hpp"
#include "runtime/root_service.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::runtime {
namespace {

// exchangeMessage receiving `stream` (then the end of stream) on a link; returns the error text.
std::string receiveStream(const std::string& stream) {
  int in[2], out[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in), 0);
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out), 0);
  BootstrapLink from, to;
  from.fd = Fd(in[0]);
  from.peer = 1;
  from.address = "socketpair";
  to.fd = Fd(out[0]);
  to.peer = 2;
  to.address = "socketpair";
  Fd farIn(in[1]), farOut(out[1]);
  EXPECT_EQ(::send(farIn.get(), stream.data(), stream.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(stream.size()));
  farIn.reset();
  try {
    exchangeMessage(to, "", from, Deadline::after(std::chrono::seconds(30)), nullptr, "rank 0");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string lengthPrefix(uint64_t n) {
  return std::string(reinterpret_cast<const char*>(&n), sizeof(n));
}

TEST(HostileInput, AnAbsurdLengthPrefixAllocatesABoundedAmount) {
  const size_t before = plexus::test::peakResidentBytes();
  // 4 GiB announced (the largest accepted), 100 bytes sent, then the peer is gone.
  std::string err = receiveStream(lengthPrefix(uint64_t{1} << 32) + std::string(100, 'x'));
  EXPECT_NE(err.find("the peer closed the connection"), std::string::npos) << err;
  EXPECT_NE(err.find("rank 1"), std::string::npos) << err;
  EXPECT_LT(plexus::test::peakResidentBytes() - before, size_t{64} << 20)
      << "the announced length was allocated before its bytes arrived";
  err = receiveStream(lengthPrefix(~uint64_t{0}));
  EXPECT_NE(err.find("an impossible message size"), std::string::npos) << err;
}

TEST(HostileInput, ALinkStreamArrivesWholeAcrossTheGrowthSteps) {
  std::string body(3u << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31 + 7);
  int in[2], out[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out), 0);
  BootstrapLink from, to;
  from.fd = Fd(in[0]);
  to.fd = Fd(out[0]);
  Fd farIn(in[1]), farOut(out[1]);
  std::thread writer([&] {
    const std::string wire = lengthPrefix(body.size()) + body;
    size_t sent = 0;
    while (sent < wire.size()) {
      ssize_t n = ::send(farIn.get(), wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  });
  std::thread drain([&] {
    char sink[64];
    while (::recv(farOut.get(), sink, sizeof(sink), 0) > 0) {
    }
  });
  std::string got =
      exchangeMessage(to, "", from, Deadline::after(std::chrono::seconds(60)), nullptr, "rank 0");
  writer.join();
  to.fd.reset();
  drain.join();
  EXPECT_TRUE(got == body);
}

TEST(HostileInput, TheRootRefusesAbsurdRankCountsAndForeignIntroductions) {
  Secret secret{};
  secret[3] = 9;
  RootHello h{};
  h.magic = kRootHelloMagic;
  h.version = kProtocolVersion;
  std::memcpy(h.secret, secret.data(), 16);
  h.nonce = 5;
  h.rank = 0;
  h.nranks = 0x7fffffff;
  EXPECT_EQ(rootHelloProblem(h, secret, 5), "");
  EXPECT_NE(rankSlotProblem(h).find("more than the bootstrap's limit"), std::string::npos);
  h.nranks = 4;
  EXPECT_EQ(rankSlotProblem(h), "");
  EXPECT_NE(rootHelloProblem(h, secret, 6).find("secret"), std::string::npos);
  h.version = 1;
  EXPECT_NE(rootHelloProblem(h, secret, 5).find("version"), std::string::npos);
  h.magic = 0;
  EXPECT_NE(rootHelloProblem(h, secret, 5).find("no bootstrap magic number"), std::string::npos);
}

// 1100 connections that never introduce themselves: the root keeps 1024 (twice the ranks, at least
// 1024) and drops the 76 oldest at once, then still serves a real rank.
TEST(HostileInput, TheRootHoldsABoundedNumberOfSilentConnections) {
  constexpr size_t kFlood = 1100, kKept = 1024;
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max < kFlood + 256) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << lim.rlim_max;
  const rlimit before = lim;
  lim.rlim_cur = std::max<rlim_t>(lim.rlim_cur, kFlood + 256);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  Secret secret{};
  secret[0] = 7;
  SocketAddress address = *SocketAddress::parse("127.0.0.1:0");
  Fd listener = listenOn(address);
  startRoot(std::move(listener), secret, 11, address);
  std::vector<Fd> silent;
  for (size_t i = 0; i < kFlood; ++i)
    silent.push_back(
        connectTo(address, Deadline::after(std::chrono::seconds(30)), nullptr, "root"));
  // The root closes the ones it drops: count the ends that read EOF.
  auto closedCount = [&] {
    std::vector<pollfd> fds;
    for (const Fd& f : silent) fds.push_back({f.get(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), 0);
    size_t closed = 0;
    for (const pollfd& p : fds) closed += (p.revents & (POLLIN | POLLHUP)) != 0;
    return closed;
  };
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (closedCount() < kFlood - kKept && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(closedCount(), kFlood - kKept);
  silent.clear();
  // A real rank (of a 1-rank job) still gets its answer.
  Fd rank = connectTo(address, Deadline::after(std::chrono::seconds(30)), nullptr, "root");
  RootHello h{};
  h.magic = kRootHelloMagic;
  h.version = kProtocolVersion;
  std::memcpy(h.secret, secret.data(), 16);
  h.nonce = 11;
  h.rank = 0;
  h.nranks = 1;
  h.pid = static_cast<int32_t>(getpid());
  h.listenAddress = addressToWire(address);
  sendAll(rank.get(), &h, sizeof(h), Deadline::after(std::chrono::seconds(30)), nullptr, "root");
  RootReply r{};
  recvAll(rank.get(), &r, sizeof(r), Deadline::after(std::chrono::seconds(30)), nullptr, "root");
  EXPECT_EQ(r.ok, 1u) << rootRefusal(r);
  rank.reset();
  reapRoots();
  setrlimit(RLIMIT_NOFILE, &before);
}

TEST(HostileInput, MalformedAddressesAndIdsAreRefused) {
  WireAddress w{};
  w.length = 4;  // an AF_INET family with a short length
  const sa_family_t inet = AF_INET;
  std::memcpy(w.bytes, &inet, sizeof(inet));
  EXPECT_FALSE(addressFromWire(w));
  w.length = sizeof(sockaddr_in);
  EXPECT_TRUE(addressFromWire(w));
  w.length = 0xffffffff;
  EXPECT_FALSE(addressFromWire(w));
  const sa_family_t local = AF_UNIX;
  std::memcpy(w.bytes, &local, sizeof(local));
  w.length = sizeof(sockaddr_in);
  EXPECT_FALSE(addressFromWire(w));

  UniqueId id;
  id.root = *SocketAddress::parse("127.0.0.1:29500");
  UniqueIdBytes bytes = id.encode();
  EXPECT_NO_THROW(UniqueId::decode(bytes));
  bytes[32] = AF_UNIX & 0xff;  // the family of the root address (IdLayout in unique_id.cpp)
  bytes[33] = 0;
  EXPECT_THROW(UniqueId::decode(bytes), Error);

  RootReply r{};
  r.ok = 1;
  r.rounds = 40;
  EXPECT_NE(rootReplyProblem(r, 4).find("40 link addresses for 4 ranks"), std::string::npos);
  r.ok = 0;
  std::memset(r.message, 'z', sizeof(r.message));  // not terminated
  EXPECT_EQ(rootRefusal(r).size(), sizeof(r.message));
}

}  // namespace
}  // namespace plexus::runtime
