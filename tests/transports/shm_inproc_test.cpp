// Ranks that are threads of one process connect over shm without descriptors: 40 ranks connect an
// all-to-all mesh (40 x 39 connections) while a watcher counts the process's open descriptors, then
// exchange exact data through every connection; the registry is empty once the transports are
// gone, and a second communicator of the same ranks and id works the same way.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/error.hpp"
#include "transports/common/rank_control.hpp"
#include "transports/common/transport.hpp"
#include "transports/shm/inproc_registry.hpp"

namespace plexus::transport {
namespace {

constexpr int kRanks = 40;
constexpr int kMessages = 5;      // per connection and direction: more than the FIFO's 2 slots
constexpr uint32_t kBytes = 200;  // past the inline size: data travels in the slot

// This process's open descriptors (the iterator's own is counted too, the same every time).
int openFds() {
  const auto fds = std::filesystem::directory_iterator("/proc/self/fd");
  return static_cast<int>(std::distance(begin(fds), end(fds)));
}

uint8_t pattern(int from, int to, int message, uint32_t i) {
  return static_cast<uint8_t>(from * 7 + to * 13 + message * 31 + i);
}

using Clock = std::chrono::steady_clock;

// Connects rank `r` to every other rank (round-robin, non-blocking, as the engine does).
std::vector<Connection*> connectAll(Transport& t, int r, Clock::time_point deadline) {
  std::vector<Connection*> conns(kRanks, nullptr);
  int missing = kRanks - 1;
  while (missing > 0) {
    if (Clock::now() > deadline)
      throwError(ErrorCode::kInternal, "rank %d: %d connections missing", r, missing);
    t.progress();
    for (int p = 0; p < kRanks; ++p)
      if (p != r && conns[p] == nullptr && (conns[p] = t.connect(0, p)) != nullptr) --missing;
    std::this_thread::yield();
  }
  return conns;
}

// Sends kMessages to every peer and receives theirs; returns the number of wrong bytes.
int exchange(int r, const std::vector<Connection*>& conns, Clock::time_point deadline) {
  std::vector<int> sent(kRanks, 0), got(kRanks, 0);
  int wrong = 0, left = 2 * (kRanks - 1) * kMessages;
  while (left > 0) {
    if (Clock::now() > deadline) throwError(ErrorCode::kInternal, "rank %d: %d left", r, left);
    for (int p = 0; p < kRanks; ++p) {
      if (p == r) continue;
      if (sent[p] < kMessages) {
        if (std::byte* slot = conns[p]->sender().acquire()) {
          for (uint32_t i = 0; i < kBytes; ++i) slot[i] = std::byte{pattern(r, p, sent[p], i)};
          conns[p]->sender().post(kBytes, static_cast<uint32_t>(sent[p]));
          ++sent[p], --left;
        }
      }
      uint32_t bytes = 0, tag = 0;
      if (const std::byte* data = conns[p]->receiver().peek(&bytes, &tag)) {
        if (bytes != kBytes || tag != static_cast<uint32_t>(got[p])) ++wrong;
        for (uint32_t i = 0; i < std::min(bytes, kBytes); ++i)
          wrong += data[i] != std::byte{pattern(p, r, got[p], i)} ? 1 : 0;
        conns[p]->receiver().release();
        ++got[p], --left;
      }
    }
    std::this_thread::yield();
  }
  return wrong;
}

struct MeshResult {
  int peakGrowth = 0;
  int afterGrowth = 0;
  int wrong = 0;
  int failures = 0;
};

MeshResult runMesh(uint64_t commId) {
  std::vector<PeerRecord> peers(kRanks);
  for (int r = 0; r < kRanks; ++r) {
    peers[r].rank = r;
    peers[r].hostHash = 0xabcdef;
    peers[r].hostName = "here";
    peers[r].pid = static_cast<int>(getpid());
  }
  std::atomic<bool> abort{false};
  std::vector<TransportContext> ctx(kRanks);
  for (int r = 0; r < kRanks; ++r) {
    ctx[r].commId = commId;
    ctx[r].rank = r;
    ctx[r].nranks = kRanks;
    ctx[r].slots = SlotConfig{4096, 2};
    ctx[r].peers = &peers;
    ctx[r].abort = &abort;
  }
  const int base = openFds();
  std::atomic<int> peak{base};
  std::atomic<bool> watching{true};
  std::thread watcher([&] {
    while (watching.load()) {
      int n = openFds();
      int p = peak.load();
      while (n > p && !peak.compare_exchange_weak(p, n)) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::atomic<int> wrong{0}, failures{0}, created{0}, connected{0};
  auto deadline = Clock::now() + std::chrono::seconds(120);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r)
    threads.emplace_back([&, r] {
      try {
        RankControl own = RankControl::create(commId, r);
        std::unique_ptr<Transport> t = makeShmTransport(ctx[r]);
        // Every transport exists before anyone connects (the communicator's bootstrap does this).
        ++created;
        while (created.load() < kRanks && Clock::now() < deadline) std::this_thread::yield();
        std::vector<Connection*> conns = connectAll(*t, r, deadline);
        ++connected;
        while (connected.load() < kRanks && Clock::now() < deadline) std::this_thread::yield();
        wrong += exchange(r, conns, deadline);
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  for (std::thread& t : threads) t.join();
  watching = false;
  watcher.join();
  return {peak.load() - base, openFds() - base, wrong.load(), failures.load()};
}

TEST(ShmInproc, ThreadRanksConnectAMeshWithoutDescriptorsPerPair) {
  const uint64_t comm = 0x5eed000000000000ull ^ static_cast<uint64_t>(getpid());
  for (int round = 0; round < 2; ++round) {  // the second: a later communicator, same ranks and id
    MeshResult m = runMesh(comm);
    EXPECT_EQ(m.failures, 0) << "round " << round;
    EXPECT_EQ(m.wrong, 0) << "round " << round;
    // Each rank holds its control block, listener and epoll (3 x 40); the old way took a socket
    // end and a FIFO memfd per ordered pair (>= 40 x 39 = 1560).
    EXPECT_LT(m.peakGrowth, kRanks * (kRanks - 1) / 4) << "round " << round;
    EXPECT_LE(m.afterGrowth, 0) << "round " << round;
    EXPECT_EQ(shm::registryEntries(), 0u) << "round " << round;
    std::printf("round %d: descriptors grew by at most %d during setup (%d after)\n", round,
                m.peakGrowth, m.afterGrowth);
  }
}

}  // namespace
}  // namespace plexus::transport
