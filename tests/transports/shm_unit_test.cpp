// Device-free parts of the shm transport: the FIFO geometry fitted to the shared-memory budget, the
// budget check, and the local link (abstract Unix socket with descriptor passing, end of stream on
// the peer's exit).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/shm_segment.hpp"
#include "transports/common/transport.hpp"
#include "transports/shm/local_link.hpp"
#include "transports/shm/shm_budget.hpp"
#include "transports/shm/shm_fifo.hpp"

namespace plexus::transport {
namespace {

uint64_t meshBytes(const SlotConfig& c, int localRanks) {
  return static_cast<uint64_t>(localRanks - 1) * shm::fifoBytes(c.slotBytes, c.slots);
}

TEST(SlotFit, SmallHostsKeepTheWantedGeometry) {
  SlotConfig wanted;  // 8 x 128 KiB
  for (int local : {1, 2, 8, 64}) {
    SlotConfig c = fitSlotsToBudget(wanted, false, local, uint64_t{12} << 30, 2);
    EXPECT_EQ(c.slotBytes, wanted.slotBytes) << local;
    EXPECT_EQ(c.slots, wanted.slots) << local;
  }
}

TEST(SlotFit, ManyLocalRanksGetFifosThatFitTheBudget) {
  const uint64_t budget = uint64_t{12} << 30;
  for (int local : {72, 144, 576}) {
    SlotConfig c = fitSlotsToBudget(SlotConfig{}, false, local, budget, 2);
    EXPECT_LE(2 * meshBytes(c, local), budget / static_cast<uint64_t>(local)) << local;
    EXPECT_GE(c.slotBytes, 4096u);
    EXPECT_EQ(c.slotBytes % 64, 0u);
    EXPECT_GE(c.slots, 2u);
  }
  // 576 ranks in 12 GiB, 2 channels: 4 KiB slots, 4 of them.
  SlotConfig c = fitSlotsToBudget(SlotConfig{}, false, 576, budget, 2);
  EXPECT_EQ(c.slotBytes, 4096u);
  EXPECT_EQ(c.slots, 4u);
}

TEST(SlotFit, TheUsersGeometryIsKeptAndTheFloorIsBounded) {
  SlotConfig wanted;
  SlotConfig c = fitSlotsToBudget(wanted, true, 576, uint64_t{1} << 30, 2);
  EXPECT_EQ(c.slotBytes, wanted.slotBytes);
  EXPECT_EQ(c.slots, wanted.slots);
  c = fitSlotsToBudget(wanted, false, 576, uint64_t{1} << 20, 2);  // nothing fits: the floor
  EXPECT_EQ(c.slotBytes, 4096u);
  EXPECT_EQ(c.slots, 2u);
}

TEST(ShmBudgetCheck, RefusesPastTheShareNamingTheKnob) {
  std::vector<PeerRecord> peers(4);
  for (int r = 0; r < 4; ++r) {
    peers[static_cast<size_t>(r)].rank = r;
    peers[static_cast<size_t>(r)].hostHash = r < 3 ? 7 : 9;  // 3 ranks on this host
    peers[static_cast<size_t>(r)].hostName = r < 3 ? "a" : "b";
  }
  TransportContext ctx;
  ctx.rank = 1;
  ctx.nranks = 4;
  ctx.peers = &peers;
  EXPECT_EQ(shm::localRanks(ctx), 3);
  setenv("PLEXUS_SHM_BUDGET", "3M", 1);
  shm::Budget b;
  b.check(ctx, 1u << 20, 0, 0);  // exactly the share
  b.charge(1u << 20);
  try {
    b.check(ctx, 1, 0, 2);
    FAIL() << "a byte past the share was accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("rank 1 (host a)"), std::string::npos) << m;
    EXPECT_NE(m.find("PLEXUS_SHM_BUDGET=3145728 bytes per host / 3 ranks"), std::string::npos) << m;
    EXPECT_NE(m.find("connection 0 from rank 2"), std::string::npos) << m;
  }
  unsetenv("PLEXUS_SHM_BUDGET");
}

TEST(LocalLink, PassesSegmentsAndSeesThePeersExit) {
  const uint64_t comm = 0x1234000000000000ull ^ static_cast<uint64_t>(getpid());
  Fd listener = shm::listenLink(comm, 1);
  // Nothing listens for rank 2: its process is gone.
  EXPECT_THROW(shm::connectLink(comm, 2, "rank 2"), Error);
  pid_t child = fork();
  if (child == 0) {
    // Rank 0: connects, sends a segment holding a word, then exits.
    try {
      Fd s = shm::connectLink(comm, 1, "rank 1");
      ShmSegment seg = ShmSegment::create("test", 4096);
      std::memcpy(seg.data(), "plexus", 7);
      shm::LinkMessage m;
      m.magic = shm::kLinkMagic;
      m.from = 0;
      m.connection = 3;
      shm::sendLink(s.get(), m, {seg.fd(), seg.fd()}, "rank 1");
    } catch (...) {
      _exit(1);
    }
    _exit(0);
  }
  Fd link;
  for (int i = 0; i < 5000 && !link; ++i) {
    link = shm::acceptLink(listener.get());
    if (!link) usleep(1000);
  }
  ASSERT_TRUE(link);
  shm::LinkMessage m;
  std::vector<Fd> fds;
  shm::LinkRead r = shm::LinkRead::kNone;
  for (int i = 0; i < 5000 && r == shm::LinkRead::kNone; ++i) {
    r = shm::recvLink(link.get(), &m, &fds);
    if (r == shm::LinkRead::kNone) usleep(1000);
  }
  ASSERT_EQ(r, shm::LinkRead::kMessage);
  EXPECT_EQ(m.magic, shm::kLinkMagic);
  EXPECT_EQ(m.connection, 3);
  ASSERT_EQ(fds.size(), 2u);
  ShmSegment seg = ShmSegment::map(std::move(fds[0]), 4096, "received");
  EXPECT_STREQ(static_cast<const char*>(seg.data()), "plexus");
  EXPECT_THROW(ShmSegment::map(std::move(fds[1]), 8192, "too small"), Error);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(shm::linkClosed(link.get()));
  EXPECT_EQ(shm::recvLink(link.get(), &m, &fds), shm::LinkRead::kClosed);
}

}  // namespace
}  // namespace plexus::transport
