// How the tcp transport cuts slots into pieces for its sockets.
#include <gtest/gtest.h>

#include "transports/tcp/stripe.hpp"

namespace plexus::transport::tcp {
namespace {

void expectCovers(const std::vector<Piece>& pieces, uint32_t bytes, int sockets) {
  uint32_t next = 0;
  std::vector<int> used;
  for (const Piece& p : pieces) {
    EXPECT_EQ(p.offset, next);
    EXPECT_GE(p.socket, 0);
    EXPECT_LT(p.socket, sockets);
    for (int u : used) EXPECT_NE(u, p.socket) << "two pieces of one frame on one socket";
    used.push_back(p.socket);
    next += p.length;
  }
  EXPECT_EQ(next, bytes);
}

TEST(Stripe, SmallFramesTravelWholeOnRotatingSockets) {
  for (uint64_t f = 0; f < 8; ++f) {
    auto p = planPieces(f, 1000, 4, 65536);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].socket, static_cast<int>(f % 4));
    EXPECT_EQ(p[0].length, 1000u);
  }
  auto z = planPieces(3, 0, 4, 65536);
  ASSERT_EQ(z.size(), 1u);
  EXPECT_EQ(z[0].length, 0u);
}

TEST(Stripe, OneSocketNeverStripes) {
  auto p = planPieces(5, 512 * 1024, 1, 4096);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].socket, 0);
  EXPECT_EQ(p[0].length, 512u * 1024);
}

TEST(Stripe, LargeFramesUseEverySocketOnce) {
  auto p = planPieces(1, 512 * 1024, 4, 65536);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].socket, 1);
  for (const Piece& q : p) EXPECT_EQ(q.length, 128u * 1024);
  expectCovers(p, 512 * 1024, 4);
}

TEST(Stripe, OddSizesAndFewerPiecesThanSockets) {
  for (uint32_t bytes : {65537u, 100000u, 131072u, 200003u, 524287u, 1u << 20}) {
    for (int sockets : {2, 3, 4, 7, 16}) {
      auto p = planPieces(11, bytes, sockets, 65536);
      EXPECT_LE(p.size(), static_cast<size_t>(sockets));
      EXPECT_LE(p.size(), (bytes + 65535) / 65536);
      for (size_t i = 0; i + 1 < p.size(); ++i) EXPECT_EQ(p[i].length % 4096, 0u);
      expectCovers(p, bytes, sockets);
    }
  }
}

}  // namespace
}  // namespace plexus::transport::tcp
