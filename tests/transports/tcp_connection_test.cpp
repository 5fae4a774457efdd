// The tcp connection's receive path on its own: raw pieces (header + payload) written into one end
// of a socket pair in odd-sized bursts must come out of TcpConnection::peek() whole and in order,
// whether a burst ends inside a header, inside a payload, or carries a payload together with the
// start of the next header (the receiver reads those in one call). And the send path: frames
// posted faster than the socket drains reach the other end intact.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <vector>

#include "transports/tcp/tcp_connection.hpp"

namespace plexus::transport::tcp {
namespace {

struct Pair {
  TransportContext ctx;
  std::vector<PeerRecord> peers = std::vector<PeerRecord>(2);
  std::unique_ptr<TcpConnection> conn;
  Fd raw;
  explicit Pair(uint64_t inflight) {
    ctx.nranks = 2;
    ctx.slots.slotBytes = 4096;
    ctx.slots.slots = 2;
    ctx.peers = &peers;
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    raw = Fd(sv[1]);
    std::vector<Fd> fds;
    fds.emplace_back(sv[0]);
    TcpOptions o;
    o.inflightBytes = inflight;
    o.bufferBytes = 0;
    conn = std::make_unique<TcpConnection>(ctx, o, 1, std::move(fds), "socketpair");
  }
};

std::vector<std::byte> frameBytes(uint32_t frame, uint32_t bytes) {
  PieceHeader h{frame, frame * 7 + 1, bytes, 0, bytes, 1};
  std::vector<std::byte> out(sizeof(h) + bytes);
  std::memcpy(out.data(), &h, sizeof(h));
  for (uint32_t i = 0; i < bytes; ++i)
    out[sizeof(h) + i] = static_cast<std::byte>((frame * 31 + i) & 0xff);
  return out;
}

// `frames` frames of 0 to 4096 bytes back to back (every `emptyEvery`-th one empty); their sizes
// in `sizes`.
std::vector<std::byte> wireOf(uint32_t frames, uint32_t emptyEvery, std::vector<uint32_t>& sizes) {
  std::vector<std::byte> wire;
  for (uint32_t f = 0; f < frames; ++f) {
    uint32_t n = (f % emptyEvery == 0) ? 0 : (f * 613) % 4097;
    sizes.push_back(n);
    auto b = frameBytes(f, n);
    wire.insert(wire.end(), b.begin(), b.end());
  }
  return wire;
}

// Reads every available frame, checks it and releases it; returns how many were read.
uint32_t drain(TcpConnection& c, uint32_t next, const std::vector<uint32_t>& sizes) {
  uint32_t bytes = 0, tag = 0;
  while (const std::byte* p = c.peek(&bytes, &tag)) {
    EXPECT_EQ(bytes, sizes[next]) << "frame " << next;
    EXPECT_EQ(tag, next * 7 + 1) << "frame " << next;
    for (uint32_t i = 0; i < bytes; ++i)
      if (p[i] != static_cast<std::byte>((next * 31 + i) & 0xff)) {
        ADD_FAILURE() << "frame " << next << " byte " << i;
        break;
      }
    c.release();
    ++next;
  }
  return next;
}

TEST(TcpConnection, PiecesSplitAnywhereArriveWholeAndInOrder) {
  Pair p(0);  // the engine's depth only: 2 slots of 4 KiB
  std::vector<uint32_t> sizes;
  const std::vector<std::byte> wire = wireOf(200, 5, sizes);
  // Bursts of 1, 7, 23, 24, 25, ... bytes: boundaries fall everywhere.
  const size_t bursts[] = {1, 7, 23, 24, 25, 47, 4096 + 24, 4096 + 31, 9000, 3};
  uint32_t next = 0;
  size_t at = 0;
  for (size_t k = 0; at < wire.size(); ++k) {
    size_t n = std::min(bursts[k % std::size(bursts)], wire.size() - at);
    ASSERT_EQ(::send(p.raw.get(), wire.data() + at, n, 0), static_cast<ssize_t>(n));
    at += n;
    next = drain(*p.conn, next, sizes);
  }
  for (int i = 0; i < 100 && next < sizes.size(); ++i) next = drain(*p.conn, next, sizes);
  EXPECT_EQ(next, sizes.size());
}

TEST(TcpConnection, QueuedFramesGoOutTogetherIntact) {
  Pair tx(64 * 4096);  // deeper than the engine's FIFO: 64 slots
  uint32_t posted = 0;
  while (std::byte* slot = tx.conn->acquire()) {
    uint32_t n = posted % 3 == 0 ? 4096 : posted % 3;
    for (uint32_t i = 0; i < n; ++i) slot[i] = static_cast<std::byte>((posted * 31 + i) & 0xff);
    tx.conn->post(n, posted * 7 + 1);
    ++posted;
  }
  EXPECT_GE(posted, 64u);
  // The other end reads the raw stream back piece by piece.
  for (uint32_t f = 0; f < posted; ++f) {
    uint32_t n = f % 3 == 0 ? 4096 : f % 3;
    auto want = frameBytes(f, n);
    std::vector<std::byte> got(want.size());
    size_t have = 0;
    for (int spins = 0; have < got.size() && spins < 100000; ++spins) {
      tx.conn->progress();
      ssize_t r = ::recv(tx.raw.get(), got.data() + have, got.size() - have, MSG_DONTWAIT);
      if (r > 0) have += static_cast<size_t>(r);
    }
    ASSERT_EQ(have, got.size()) << "frame " << f;
    ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0) << "frame " << f;
  }
  EXPECT_TRUE(tx.conn->sendDrained());
}

void writeAll(int fd, const std::byte* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, 0);
    ASSERT_GT(w, 0);
    p += w;
    n -= static_cast<size_t>(w);
  }
}

bool holdsFrame(const std::byte* p, uint32_t frame, uint32_t bytes) {
  for (uint32_t i = 0; i < bytes; ++i)
    if (p[i] != static_cast<std::byte>((frame * 31 + i) & 0xff)) return false;
  return true;
}

// peekInto(): a whole frame waiting in the socket is read straight into the caller's memory;
// progress() leaves the head frame's payload in the socket for it; a frame that has only partly
// arrived, or whose size differs from the one expected, is finished in its slot; and a rank about
// to sleep (addPollFds) reads a head payload left in the socket into its slot.
TEST(TcpConnection, PeekIntoReadsAWholeHeadFrameIntoTheCallersMemory) {
  Pair rx(0);  // slots of 4 KiB
  std::vector<std::byte> dst(4096);
  uint32_t bytes = 0, tag = 0;
  // Frame 0 whole in the socket; progress() reads its header only.
  auto f0 = frameBytes(0, 3000);
  writeAll(rx.raw.get(), f0.data(), f0.size());
  rx.conn->progress();
  const std::byte* got = rx.conn->peekInto(dst.data(), 3000, &bytes, &tag);
  ASSERT_EQ(got, dst.data());
  EXPECT_EQ(bytes, 3000u);
  EXPECT_EQ(tag, 1u);
  EXPECT_TRUE(holdsFrame(dst.data(), 0, 3000));
  // Asked again before release(): the same memory, nothing read again.
  EXPECT_EQ(rx.conn->peekInto(dst.data(), 3000, &bytes, &tag), dst.data());
  rx.conn->release();
  // Frame 1 arrives in two parts: the first part is read into `dst` and copied to the slot; the
  // rest follows in the slot, which peekInto then returns.
  auto f1 = frameBytes(1, 4096);
  std::fill(dst.begin(), dst.end(), std::byte{0});
  writeAll(rx.raw.get(), f1.data(), sizeof(PieceHeader) + 1000);
  EXPECT_EQ(rx.conn->peekInto(dst.data(), 4096, &bytes, &tag), nullptr);
  writeAll(rx.raw.get(), f1.data() + sizeof(PieceHeader) + 1000, 4096 - 1000);
  got = rx.conn->peekInto(dst.data(), 4096, &bytes, &tag);
  ASSERT_NE(got, nullptr);
  EXPECT_NE(got, dst.data());
  EXPECT_TRUE(holdsFrame(got, 1, 4096));
  rx.conn->release();
  // Frame 2 is not the size expected: the slot.
  auto f2 = frameBytes(2, 100);
  writeAll(rx.raw.get(), f2.data(), f2.size());
  got = rx.conn->peekInto(dst.data(), 200, &bytes, &tag);
  ASSERT_NE(got, nullptr);
  EXPECT_NE(got, dst.data());
  EXPECT_EQ(bytes, 100u);
  EXPECT_TRUE(holdsFrame(got, 2, 100));
  rx.conn->release();
  // Frame 3 waits in the socket behind its header; the rank goes to sleep: it is read into its
  // slot first, so the sleep is not cut short by data nobody reads.
  auto f3 = frameBytes(3, 2048);
  writeAll(rx.raw.get(), f3.data(), f3.size());
  rx.conn->progress();
  std::vector<pollfd> fds;
  rx.conn->addPollFds(fds);
  got = rx.conn->peekInto(dst.data(), 2048, &bytes, &tag);
  ASSERT_NE(got, nullptr);
  EXPECT_NE(got, dst.data());
  EXPECT_TRUE(holdsFrame(got, 3, 2048));
  rx.conn->release();
}

// Many frames in bursts that end anywhere, taken alternately with peek() and peekInto(): every
// frame arrives whole and in order, wherever it was read.
TEST(TcpConnection, PeekIntoAndPeekTakeFramesSplitAnywhereInOrder) {
  Pair rx(0);
  std::vector<uint32_t> sizes;
  const std::vector<std::byte> wire = wireOf(300, 7, sizes);
  const size_t bursts[] = {1, 7, 23, 24, 25, 47, 4096 + 24, 4096 + 31, 9000, 3, 4120};
  std::vector<std::byte> dst(4096);
  uint32_t next = 0, direct = 0;
  size_t at = 0;
  for (size_t k = 0; next < sizes.size() && k < 100000; ++k) {
    if (at < wire.size()) {
      size_t n = std::min(bursts[k % std::size(bursts)], wire.size() - at);
      ssize_t w = ::send(rx.raw.get(), wire.data() + at, n, MSG_DONTWAIT);
      if (w > 0) at += static_cast<size_t>(w);
    }
    if (k % 3 == 0) rx.conn->progress();
    while (next < sizes.size()) {
      uint32_t bytes = 0, tag = 0;
      const std::byte* p = next % 2 == 0 ? rx.conn->peekInto(dst.data(), sizes[next], &bytes, &tag)
                                         : rx.conn->peek(&bytes, &tag);
      if (p == nullptr) break;
      ASSERT_EQ(bytes, sizes[next]) << "frame " << next;
      ASSERT_EQ(tag, next * 7 + 1) << "frame " << next;
      ASSERT_TRUE(holdsFrame(p, next, bytes)) << "frame " << next;
      if (p == dst.data()) ++direct;
      rx.conn->release();
      ++next;
    }
  }
  EXPECT_EQ(next, sizes.size());
  EXPECT_GT(direct, 0u) << "no frame was read straight into the caller's memory";
}

// postFrom() writes straight from the caller's memory while the socket takes it (the slot stays
// untouched), and copies into the slot only what a full socket left; either way the caller may
// overwrite its memory at once, and every frame arrives intact and in order.
TEST(TcpConnection, PostFromSendsStraightFromMemoryAndStagesWhatTheSocketLeaves) {
  Pair tx(64 * 4096);
  ASSERT_TRUE(tx.conn->sendsFromMemory());
  std::vector<std::byte> src(4096);
  auto fill = [&](uint32_t f, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) src[i] = static_cast<std::byte>((f * 31 + i) & 0xff);
  };
  auto sizeOf = [](uint32_t f) { return f % 4 == 0 ? 4096u : (f * 613) % 4097; };
  // The first frame goes out whole from `src`: its slot is not written.
  std::byte* slot = tx.conn->acquire();
  ASSERT_NE(slot, nullptr);
  std::memset(slot, 0xee, 4096);
  fill(0, sizeOf(0));
  tx.conn->postFrom(slot, src.data(), sizeOf(0), 1);
  EXPECT_TRUE(tx.conn->sendDrained());
  EXPECT_EQ(slot[0], std::byte{0xee});
  EXPECT_EQ(slot[4095], std::byte{0xee});
  // Then many more frames than the socket buffer holds, without reading: some are written in
  // part and staged, later ones wait in the FIFO; `src` is overwritten after every call.
  const uint32_t frames = 2000;
  uint32_t posted = 1, checked = 0, staged = 0;
  std::vector<std::byte> got;
  size_t have = 0;
  for (int spins = 0; checked < frames && spins < 1000000; ++spins) {
    while (posted < frames) {
      std::byte* s = tx.conn->acquire();
      if (s == nullptr) break;
      fill(posted, sizeOf(posted));
      const bool drained = tx.conn->sendDrained();
      tx.conn->postFrom(s, src.data(), sizeOf(posted), posted * 7 + 1);
      if (drained && !tx.conn->sendDrained()) ++staged;  // written in part (or not) from `src`
      std::memset(src.data(), 0x5a, src.size());
      ++posted;
    }
    tx.conn->progress();
    if (spins % 3 != 0) continue;  // let the socket fill now and then
    const uint32_t n = sizeOf(checked);
    auto want = frameBytes(checked, n);
    got.resize(want.size());
    ssize_t r = ::recv(tx.raw.get(), got.data() + have, got.size() - have, MSG_DONTWAIT);
    if (r > 0) have += static_cast<size_t>(r);
    if (have < got.size()) continue;
    ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0) << "frame " << checked;
    have = 0;
    ++checked;
  }
  EXPECT_EQ(checked, frames);
  EXPECT_GT(staged, 0u) << "the socket never filled: the staging path was not exercised";
  EXPECT_TRUE(tx.conn->sendDrained());
}

}  // namespace
}  // namespace plexus::transport::tcp
