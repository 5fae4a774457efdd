// Interface selection syntax (NCCL's), addresses, loopback transfers with deadlines.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <thread>

#include "base/error.hpp"
#include "base/socket.hpp"

namespace plexus {
namespace {

TEST(InterfaceMatch, PrefixList) {
  EXPECT_TRUE(interfaceMatches("eth,ib", "eth0"));
  EXPECT_TRUE(interfaceMatches("eth,ib", "ib1"));
  EXPECT_FALSE(interfaceMatches("eth,ib", "lo"));
}

TEST(InterfaceMatch, Exclude) {
  EXPECT_FALSE(interfaceMatches("^docker,lo", "docker0"));
  EXPECT_FALSE(interfaceMatches("^docker,lo", "lo"));
  EXPECT_TRUE(interfaceMatches("^docker,lo", "eth0"));
}

TEST(InterfaceMatch, Exact) {
  EXPECT_TRUE(interfaceMatches("=eth0", "eth0"));
  EXPECT_FALSE(interfaceMatches("=eth0", "eth01"));
  EXPECT_FALSE(interfaceMatches("^=eth0", "eth0"));
  EXPECT_TRUE(interfaceMatches("^=eth0", "eth01"));
}

TEST(InterfaceMatch, PortSuffixIgnored) {
  EXPECT_TRUE(interfaceMatches("=lo:1234", "lo"));
}

TEST(Interfaces, LoopbackSelectedWhenPinned) {
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  auto ifs = selectInterfaces();
  ASSERT_FALSE(ifs.empty());
  for (const auto& i : ifs) {
    EXPECT_EQ(i.name.substr(0, 2), "lo");
    EXPECT_TRUE(i.address.isLoopback());
  }
}

TEST(Interfaces, UnknownNameIsAClearError) {
  setenv("PLEXUS_SOCKET_IFNAME", "=nosuchif0", 1);
  try {
    selectInterfaces();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("PLEXUS_SOCKET_IFNAME"), std::string::npos);
  }
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
}

TEST(Address, ParseAndPrint) {
  auto a = SocketAddress::parse("127.0.0.1:5000");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port(), 5000);
  EXPECT_EQ(a->toString(), "127.0.0.1:5000");
  EXPECT_TRUE(a->isLoopback());
  auto b = SocketAddress::parse("[::1]:7");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->toString(), "[::1]:7");
  EXPECT_FALSE(SocketAddress::parse("nonsense"));
}

TEST(Sockets, LoopbackTransferAndPeerExit) {
  auto addr = *SocketAddress::parse("127.0.0.1:0");
  Fd listener = listenOn(addr);
  EXPECT_NE(addr.port(), 0);
  std::thread client([addr] {
    Fd c = connectTo(addr, Deadline::after(std::chrono::seconds(5)), nullptr, "test server");
    const char msg[6] = "hello";
    sendAll(c.get(), msg, sizeof(msg), Deadline::after(std::chrono::seconds(5)), nullptr, "srv");
  });
  Fd s = acceptOne(listener.get(), Deadline::after(std::chrono::seconds(5)), nullptr);
  ASSERT_TRUE(s);
  char buf[6] = {};
  recvAll(s.get(), buf, sizeof(buf), Deadline::after(std::chrono::seconds(5)), nullptr, "client");
  EXPECT_STREQ(buf, "hello");
  client.join();
  // The client closed: a further receive fails and names the peer.
  try {
    recvAll(s.get(), buf, 1, Deadline::after(std::chrono::seconds(5)), nullptr, "rank 3");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote);
    EXPECT_NE(std::string(e.what()).find("rank 3"), std::string::npos);
  }
}

TEST(Sockets, ReceiveTimesOut) {
  auto addr = *SocketAddress::parse("127.0.0.1:0");
  Fd listener = listenOn(addr);
  Fd c = connectTo(addr, Deadline::after(std::chrono::seconds(5)), nullptr, "server");
  Fd s = acceptOne(listener.get(), Deadline::after(std::chrono::seconds(5)), nullptr);
  char b;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(
      recvAll(s.get(), &b, 1, Deadline::after(std::chrono::milliseconds(200)), nullptr, "peer"),
      Error);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(150));
}

}  // namespace
}  // namespace plexus
