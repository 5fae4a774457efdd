// The slot FIFO over a tagged-message fabric (what the ofi and ucx plugins are made of), driven
// through an in-memory fake fabric: two transports (ranks 0 and 1) in one process with a real
// side band on loopback. Checks data and tags in order for odd sizes and empty frames, the credit
// window (the receiver never holds more than `slots` frames, however far the sender runs ahead),
// completions out of order, fabric back-pressure, abort notices carrying the first failure, and a
// peer that disappears being named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "base/error.hpp"
#include "transports/plugin_common/tagged_transport.hpp"

namespace plexus::transport {
namespace {

// Messages between fake fabrics of one process, matched by exact tag in posting order.
struct Wire {
  struct Message {
    uint64_t tag;
    std::string bytes;
  };
  std::map<int, std::deque<Message>> inbox;
};

class FakeFabric final : public TaggedFabric {
 public:
  FakeFabric(int rank, Wire& wire, uint32_t seed) : rank_(rank), wire_(wire), rng_(seed) {}
  std::string describe() const override { return "fake"; }
  std::string localAddress() override { return "fake-" + std::to_string(rank_); }
  void addPeer(int, const std::string&) override {}
  void* registerMemory(void*, size_t) override { return nullptr; }
  bool post(FabricOp& op) override {
    if (busyEvery_ > 0 && ++posts_ % busyEvery_ == 0) return false;  // back-pressure
    if (op.send && exited_.count(op.peer) != 0)                      // as the ofi fabric refuses it
      throw Error(ErrorCode::kRemote, "rank " + std::to_string(op.peer) + " has exited");
    if (op.send) {
      wire_.inbox[op.peer].push_back(
          Wire::Message{op.tag, std::string(static_cast<const char*>(op.buf), op.len)});
      sendsDone_.push_back(&op);
    } else {
      recvs_.push_back(&op);
    }
    return true;
  }
  bool progress() override {
    bool moved = false;
    // Send completions in a shuffled order.
    std::shuffle(sendsDone_.begin(), sendsDone_.end(), rng_);
    auto sends = std::move(sendsDone_);
    sendsDone_.clear();
    for (FabricOp* op : sends) {
      op->handler->onComplete(*op, true, op->len, "");
      moved = true;
    }
    auto& in = wire_.inbox[rank_];
    for (auto m = in.begin(); m != in.end();) {
      auto r = std::find_if(recvs_.begin(), recvs_.end(),
                            [&](FabricOp* op) { return op->tag == m->tag; });
      if (r == recvs_.end()) {
        ++m;  // unexpected: waits for its receive
        continue;
      }
      FabricOp* op = *r;
      recvs_.erase(r);
      EXPECT_LE(m->bytes.size(), op->len);
      std::memcpy(op->buf, m->bytes.data(), m->bytes.size());
      size_t len = m->bytes.size();
      m = in.erase(m);
      op->handler->onComplete(*op, true, len, "");
      moved = true;
    }
    return moved;
  }
  bool waitFds(std::vector<pollfd>&, bool*) override { return false; }
  bool peerFailed(int rank, std::string* why) const override {
    if (exited_.count(rank) == 0) return false;
    if (why != nullptr) *why = "has exited";
    return true;
  }
  bool peerExited(int rank) const override { return exited_.count(rank) != 0; }
  plexus_tp_device_t device() const override { return {}; }

  void setBusyEvery(int n) { busyEvery_ = n; }
  // From now on `rank`'s process is gone: sends to it throw, as the ofi fabric's do.
  void markExited(int rank) { exited_.insert(rank); }

 private:
  int rank_;
  Wire& wire_;
  std::mt19937 rng_;
  std::vector<FabricOp*> sendsDone_;
  std::deque<FabricOp*> recvs_;
  int busyEvery_ = 0;
  int posts_ = 0;
  std::set<int> exited_;
};

class TaggedPair : public ::testing::Test {
 protected:
  void SetUp() override { start(4, 1000, 0); }

  void start(uint32_t slots, uint32_t slotBytes, int busyEvery) {
    peers_.assign(2, PeerRecord{});
    for (int r = 0; r < 2; ++r) {
      TransportContext& c = ctx_[r];
      c.commId = 0x1234;
      c.rank = r;
      c.nranks = 2;
      c.slots = SlotConfig{slotBytes, slots};
      std::memset(c.secret, 7, sizeof(c.secret));
      c.peers = &peers_;
      c.abort = &abort_[r];
      peers_[static_cast<size_t>(r)].rank = r;
      peers_[static_cast<size_t>(r)].hostName = r == 0 ? "alpha" : "beta";
      peers_[static_cast<size_t>(r)].pid = getpid();
    }
    for (int r = 0; r < 2; ++r) {
      auto fabric = std::make_unique<FakeFabric>(r, wire_, 17u + static_cast<uint32_t>(r));
      fabric->setBusyEvery(busyEvery);
      fabric_[r] = fabric.get();
      TaggedTransportOptions o;
      o.name = "fake";
      t_[r] = makeTaggedTransport(ctx_[r], o, std::move(fabric));
      peers_[static_cast<size_t>(r)].addresses["fake"] = t_[r]->localAddress();
    }
    c_[0] = t_[0]->connect(3, 1);  // the lower rank connects at once
    ASSERT_NE(c_[0], nullptr);
    for (int i = 0; i < 10000 && c_[1] == nullptr; ++i) {
      t_[1]->progress();
      c_[1] = t_[1]->connect(3, 0);
    }
    ASSERT_NE(c_[1], nullptr);
  }

  void TearDown() override {
    abort_[0] = abort_[1] = true;  // no flush wait
    fabric_[0] = fabric_[1] = nullptr;
    t_[0].reset();
    t_[1].reset();
  }

  void pump() {
    t_[0]->progress();
    t_[1]->progress();
  }

  std::vector<PeerRecord> peers_;
  TransportContext ctx_[2];
  std::atomic<bool> abort_[2] = {false, false};
  Wire wire_;
  std::unique_ptr<Transport> t_[2];
  Connection* c_[2] = {nullptr, nullptr};
  FakeFabric* fabric_[2] = {nullptr, nullptr};  // owned by t_
};

TEST_F(TaggedPair, FramesArriveInOrderWithTheirTags) {
  std::vector<uint32_t> sizes = {0, 1, 7, 999, 1000, 64, 0, 333, 1000, 5, 12, 1};
  size_t sent = 0, got = 0;
  std::mt19937 rng(5);
  for (int iter = 0; iter < 100000 && got < sizes.size(); ++iter) {
    if (sent < sizes.size()) {
      if (std::byte* slot = c_[0]->sender().acquire()) {
        for (uint32_t i = 0; i < sizes[sent]; ++i)
          slot[i] = static_cast<std::byte>((sent * 31 + i) & 0xff);
        c_[0]->sender().post(sizes[sent], static_cast<uint32_t>(1000 + sent));
        ++sent;
      }
    }
    pump();
    uint32_t bytes = 0, tag = 0;
    if (rng() % 2 == 0) continue;  // the consumer is sometimes slow
    if (const std::byte* p = c_[1]->receiver().peek(&bytes, &tag)) {
      ASSERT_EQ(bytes, sizes[got]);
      ASSERT_EQ(tag, 1000 + got);
      for (uint32_t i = 0; i < bytes; ++i)
        ASSERT_EQ(p[i], static_cast<std::byte>((got * 31 + i) & 0xff)) << "frame " << got;
      c_[1]->receiver().release();
      ++got;
    }
  }
  EXPECT_EQ(got, sizes.size());
  for (int i = 0; i < 1000 && !c_[0]->sendDrained(); ++i) pump();
  EXPECT_TRUE(c_[0]->sendDrained());
}

TEST_F(TaggedPair, SenderNeverOverrunsTheReceiversSlots) {
  // Post as much as the sender will take without the receiver releasing anything.
  int posted = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    if (std::byte* slot = c_[0]->sender().acquire()) {
      std::memset(slot, posted, 10);
      c_[0]->sender().post(10, static_cast<uint32_t>(posted));
      ++posted;
    }
    pump();
  }
  // 4 frames in the receiver's slots, 4 more staged waiting for credits.
  EXPECT_EQ(posted, 8);
  EXPECT_FALSE(c_[0]->sendDrained());
  uint32_t bytes = 0, tag = 0;
  ASSERT_NE(c_[1]->receiver().peek(&bytes, &tag), nullptr);
  EXPECT_EQ(tag, 0u);
  // Releasing them lets the rest through, in order.
  for (uint32_t want = 0; want < 8; ++want) {
    const std::byte* p = nullptr;
    for (int i = 0; i < 1000 && p == nullptr; ++i) {
      pump();
      p = c_[1]->receiver().peek(&bytes, &tag);
    }
    ASSERT_NE(p, nullptr) << "frame " << want;
    EXPECT_EQ(tag, want);
    EXPECT_EQ(p[9], static_cast<std::byte>(want));
    c_[1]->receiver().release();
  }
  for (int i = 0; i < 100; ++i) pump();
  EXPECT_TRUE(c_[0]->sendDrained());
  EXPECT_EQ(c_[1]->receiver().peek(&bytes, &tag), nullptr);
}

TEST_F(TaggedPair, BothDirectionsAtOnceUnderBackPressure) {
  TearDown();
  wire_.inbox.clear();
  c_[0] = c_[1] = nullptr;
  abort_[0] = abort_[1] = false;
  start(3, 64, 3);  // every third post is refused by the fabric
  int sent[2] = {0, 0}, got[2] = {0, 0};
  const int total = 200;
  for (int iter = 0; iter < 200000 && (got[0] < total || got[1] < total); ++iter) {
    for (int r = 0; r < 2; ++r) {
      if (sent[r] < total) {
        if (std::byte* s = c_[r]->sender().acquire()) {
          uint32_t n = static_cast<uint32_t>(sent[r] % 65);
          for (uint32_t i = 0; i < n; ++i) s[i] = static_cast<std::byte>(r + sent[r] + i);
          c_[r]->sender().post(n, static_cast<uint32_t>(sent[r]));
          ++sent[r];
        }
      }
      t_[r]->progress();
      uint32_t bytes = 0, tag = 0;
      if (const std::byte* p = c_[r]->receiver().peek(&bytes, &tag)) {
        int from = 1 - r;
        ASSERT_EQ(tag, static_cast<uint32_t>(got[r]));
        ASSERT_EQ(bytes, static_cast<uint32_t>(got[r] % 65));
        for (uint32_t i = 0; i < bytes; ++i)
          ASSERT_EQ(p[i], static_cast<std::byte>(from + got[r] + static_cast<int>(i)));
        c_[r]->receiver().release();
        ++got[r];
      }
    }
  }
  EXPECT_EQ(got[0], total);
  EXPECT_EQ(got[1], total);
}

TEST_F(TaggedPair, AbortNoticeCarriesTheFirstFailure) {
  t_[1]->abortAll("rank 1 of 2: the disk is on fire");
  std::string message;
  for (int i = 0; i < 1000 && message.empty(); ++i) {
    try {
      t_[0]->progress();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kRemote);
      message = e.what();
    }
    usleep(100);
  }
  EXPECT_NE(message.find("rank 1 (host beta) aborted"), std::string::npos) << message;
  EXPECT_NE(message.find("first failure: rank 1 of 2: the disk is on fire"), std::string::npos)
      << message;
}

TEST_F(TaggedPair, VanishedPeerIsNamedWhenDataIsExpected) {
  abort_[1] = true;
  t_[1].reset();  // its side band closes
  std::string message;
  for (int i = 0; i < 1000 && message.empty(); ++i) {
    t_[0]->progress();
    try {
      c_[0]->checkPeer();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kRemote);
      message = e.what();
    }
    usleep(100);
  }
  EXPECT_NE(message.find("rank 1 (host beta"), std::string::npos) << message;
  EXPECT_NE(message.find("over fake"), std::string::npos) << message;
}

// A peer can finish its last call and exit before this rank releases the frames it sent (seen
// in the fault matrix: ofi shm, a victim that destroys its communicator at teardown). The frames
// are still read, and the credit for them, which no one will read, is dropped rather than failing
// the call; data this rank would send to the exited peer still fails, naming it.
TEST_F(TaggedPair, ExitedPeerStillDeliversWhatItSentAndItsCreditsAreDropped) {
  int posted = 0;
  for (int iter = 0; iter < 200 && posted < 3; ++iter) {
    if (std::byte* slot = c_[0]->sender().acquire()) {
      std::memset(slot, 40 + posted, 10);
      c_[0]->sender().post(10, static_cast<uint32_t>(posted));
      ++posted;
    }
    pump();
  }
  ASSERT_EQ(posted, 3);
  fabric_[1]->markExited(0);
  for (uint32_t want = 0; want < 3; ++want) {
    uint32_t bytes = 0, tag = 0;
    const std::byte* p = nullptr;
    for (int i = 0; i < 100 && p == nullptr; ++i) {
      t_[1]->progress();
      p = c_[1]->receiver().peek(&bytes, &tag);
    }
    ASSERT_NE(p, nullptr) << "frame " << want;
    EXPECT_EQ(tag, want);
    EXPECT_EQ(p[9], static_cast<std::byte>(40 + want));
    EXPECT_NO_THROW(c_[1]->receiver().release()) << "frame " << want;
    EXPECT_NO_THROW(t_[1]->progress());
  }
  // Data for the exited peer is an error that names it.
  std::byte* slot = c_[1]->sender().acquire();
  ASSERT_NE(slot, nullptr);
  try {
    c_[1]->sender().post(4, 9);
    for (int i = 0; i < 10; ++i) t_[1]->progress();
    ADD_FAILURE() << "a frame for an exited peer was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote);
    EXPECT_NE(std::string(e.what()).find("rank 0 has exited"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace plexus::transport
