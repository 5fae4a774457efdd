// Microbenchmark of the built-in transports through their real code (transports/common/
// transport.hpp): one process plays ranks 0 and 1 of a fake 2-rank communicator, each with its
// own RankControl, TransportContext and Transport (shm, or tcp over lo), connected as the
// communicator would connect them. A message goes rank 0 -> rank 1 -> rank 0 through the slot
// FIFOs: the sender acquires a slot, copies the payload in and posts it; the receiver peeks, copies
// it out and releases the slot. Messages larger than a slot travel as several slots.
//
// Variants (BM_RoundTrip/<transport>_<variant>/<bytes> or BM_OneThread/<transport>_1thread/..):
//   <transport>_spin/<bytes>    rank 1 echoes from its own thread; both sides busy-poll (what the
//                               engine does while ranks <= cores). Time = one round trip.
//   <transport>_sleep/<bytes>   as spin, but a side that finds nothing waits as the engine does
//                               once its spin budget is gone: shm sleeps on its doorbell (futex,
//                               woken by the peer's post), tcp sleeps in poll(). Time = one round
//                               trip including two wake-ups.
//   <transport>_1thread/<bytes> one thread drives both ranks in turn: the software cost of the
//                               path (acquire, copy, post, peek, copy, release, twice) with no
//                               cross-core transfer and no waiting.
// bytes_per_second counts the payload both ways (2 x bytes per round trip).
//
//   perf_micro_transport --benchmark_filter='shm_spin'
//   PLEXUS_SLOT_SIZE=64K perf_micro_transport --benchmark_filter='_1thread/'
// On a machine with fewer free cores than the two threads need, the spin rows measure the
// scheduler (a spinning side holds the core its peer needs): read the sleep rows there.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/futex.hpp"
#include "transports/common/transport.hpp"

namespace {

using plexus::transport::Connection;
using plexus::transport::PeerRecord;
using plexus::transport::RankControl;
using plexus::transport::SlotConfig;
using plexus::transport::Transport;
using plexus::transport::TransportContext;

enum class Kind { kShm, kTcp };
enum class Wait { kSpin, kSleep };

// One rank of the fake communicator. Not movable: the transport keeps a reference to ctx.
struct Rank {
  TransportContext ctx;
  RankControl control;
  std::unique_ptr<Transport> transport;
  Connection* conn = nullptr;
};

// Ranks 0 and 1 connected on connection id 0.
class Pair {
 public:
  Pair(Kind kind, const SlotConfig& slots) {
    std::random_device rd;
    const uint64_t commId = (uint64_t(rd()) << 32) ^ rd() ^ uint64_t(getpid());
    for (int r = 0; r < 2; ++r) {
      PeerRecord& p = peers_[r];
      p.rank = r;
      p.hostHash = 1;
      p.hostName = "bench";
      p.pid = static_cast<int>(getpid());
      Rank& rk = ranks_[r];
      rk.control = RankControl::create(commId, r);
      rk.ctx.commId = commId;
      rk.ctx.rank = r;
      rk.ctx.nranks = 2;
      rk.ctx.slots = slots;
      std::memset(rk.ctx.secret, 0x5a, sizeof(rk.ctx.secret));
      rk.ctx.peers = &peers_;
      rk.ctx.abort = &abort_;
      rk.transport = kind == Kind::kShm ? plexus::transport::makeShmTransport(rk.ctx)
                                        : plexus::transport::makeTcpTransport(rk.ctx);
      p.addresses[rk.transport->name()] = rk.transport->localAddress();
    }
    // Connect both sides from this thread: rank 0 connects (blocking, tcp: the listener's backlog
    // takes it), rank 1 returns its side once the introduction has arrived.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ranks_[0].conn == nullptr || ranks_[1].conn == nullptr) {
      for (int r = 0; r < 2; ++r) {
        Rank& rk = ranks_[r];
        if (rk.conn == nullptr) rk.conn = rk.transport->connect(0, 1 - r);
        rk.transport->progress();
      }
      if (std::chrono::steady_clock::now() > until)
        throw std::runtime_error("transport benchmark: ranks 0 and 1 did not connect in 10 s");
    }
  }
  ~Pair() {
    // Connections and transports before the control blocks they ring.
    for (Rank& rk : ranks_) rk.transport.reset();
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  Rank& rank(int r) { return ranks_[r]; }

 private:
  std::vector<PeerRecord> peers_ = std::vector<PeerRecord>(2);
  std::atomic<bool> abort_{false};
  std::array<Rank, 2> ranks_;
};

// Calls `attempt` until it returns non-null, waiting between attempts by busy polling or as the
// engine sleeps (doorbell futex for shm, poll() for tcp). Null if `stop` was raised.
template <class Attempt>
auto waitFor(Rank& rk, Wait wait, const std::atomic<bool>& stop, Attempt attempt)
    -> decltype(attempt()) {
  while (true) {
    if (auto p = attempt()) return p;
    if (stop.load(std::memory_order_relaxed)) return nullptr;
    if (wait == Wait::kSpin) {
      rk.conn->progress();
      plexus::cpuRelax();
    } else if (plexus::transport::Doorbell* bell = rk.transport->wakeSources().doorbell) {
      // The engine's order: arm the doorbell, look once more, then sleep.
      const uint32_t seen = bell->arm();
      if (auto p = attempt()) {
        bell->disarm();
        return p;
      }
      bell->sleep(seen, std::chrono::milliseconds(10));
      bell->disarm();
    } else {
      std::vector<pollfd> fds;
      rk.conn->addPollFds(fds);
      ::poll(fds.data(), fds.size(), 10);
      rk.conn->progress();
    }
  }
}

// Sends `bytes` from `src` as slot-sized pieces. False if `stop` was raised while waiting.
bool sendMessage(Rank& rk, const std::byte* src, size_t bytes, uint32_t tag, Wait wait,
                 const std::atomic<bool>& stop) {
  const size_t slot = rk.ctx.slots.slotBytes;
  size_t off = 0;
  do {
    std::byte* p = waitFor(rk, wait, stop, [&] { return rk.conn->sender().acquire(); });
    if (p == nullptr) return false;
    const size_t n = std::min(slot, bytes - off);
    std::memcpy(p, src + off, n);
    rk.conn->sender().post(static_cast<uint32_t>(n), tag);
    off += n;
  } while (off < bytes);
  return true;
}

// Receives `bytes` into `dst`; false if `stop` was raised. Throws if a piece has the wrong tag or
// size (a broken transport must not look fast).
bool recvMessage(Rank& rk, std::byte* dst, size_t bytes, uint32_t tag, Wait wait,
                 const std::atomic<bool>& stop) {
  const size_t slot = rk.ctx.slots.slotBytes;
  size_t off = 0;
  do {
    uint32_t got = 0, gotTag = 0;
    const std::byte* p =
        waitFor(rk, wait, stop, [&] { return rk.conn->receiver().peek(&got, &gotTag); });
    if (p == nullptr) return false;
    const size_t n = std::min(slot, bytes - off);
    if (got != n || gotTag != tag)
      throw std::runtime_error("transport benchmark: got a piece of " + std::to_string(got) +
                               " bytes with tag " + std::to_string(gotTag) + ", expected " +
                               std::to_string(n) + " bytes with tag " + std::to_string(tag));
    std::memcpy(dst + off, p, n);
    rk.conn->receiver().release();
    off += n;
  } while (off < bytes);
  return true;
}

SlotConfig benchSlots() {
  return plexus::transport::slotConfigFromEnv();
}

void prepareEnv() {
  // tcp must stay on loopback; keep a choice the user made.
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 0);
}

// Round trips with rank 1 echoing from its own thread.
void BM_RoundTrip(benchmark::State& state, Kind kind, Wait wait) {
  prepareEnv();
  const size_t bytes = static_cast<size_t>(state.range(0));
  Pair pair(kind, benchSlots());
  std::vector<std::byte> ping(bytes), pong(bytes), echo(bytes);
  for (size_t i = 0; i < bytes; ++i) ping[i] = std::byte(i * 131 + 7);
  std::atomic<bool> stop{false};
  std::string echoError;
  std::thread echoer([&] {
    try {
      for (uint32_t tag = 1;; ++tag) {
        if (!recvMessage(pair.rank(1), echo.data(), bytes, tag, wait, stop)) return;
        if (!sendMessage(pair.rank(1), echo.data(), bytes, tag, wait, stop)) return;
      }
    } catch (const std::exception& e) {
      echoError = e.what();
      stop.store(true);
    }
  });
  uint32_t tag = 1;
  std::string error;
  try {
    for (auto _ : state) {
      if (!sendMessage(pair.rank(0), ping.data(), bytes, tag, wait, stop) ||
          !recvMessage(pair.rank(0), pong.data(), bytes, tag, wait, stop)) {
        error = "echo thread failed: " + echoError;
        break;
      }
      ++tag;
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  stop.store(true);
  pair.rank(1).control.ring();  // wake the echo thread if it sleeps
  echoer.join();
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  if (bytes > 0 && (pong.front() != ping.front() || pong.back() != ping.back()))
    state.SkipWithError("the echoed payload differs from what was sent");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 *
                          static_cast<int64_t>(bytes));
}

// One thread drives both ranks: 0 sends, 1 receives and sends back, 0 receives.
void BM_OneThread(benchmark::State& state, Kind kind) {
  prepareEnv();
  const size_t bytes = static_cast<size_t>(state.range(0));
  const SlotConfig slots = benchSlots();
  if (bytes > size_t(slots.slotBytes) * slots.slots) {
    state.SkipWithError("message larger than a FIFO: needs two threads");
    return;
  }
  Pair pair(kind, slots);
  std::vector<std::byte> ping(bytes), pong(bytes), echo(bytes);
  for (size_t i = 0; i < bytes; ++i) ping[i] = std::byte(i * 131 + 7);
  const std::atomic<bool> stop{false};
  uint32_t tag = 1;
  try {
    for (auto _ : state) {
      sendMessage(pair.rank(0), ping.data(), bytes, tag, Wait::kSpin, stop);
      recvMessage(pair.rank(1), echo.data(), bytes, tag, Wait::kSpin, stop);
      sendMessage(pair.rank(1), echo.data(), bytes, tag, Wait::kSpin, stop);
      recvMessage(pair.rank(0), pong.data(), bytes, tag, Wait::kSpin, stop);
      ++tag;
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  if (bytes > 0 && (pong.front() != ping.front() || pong.back() != ping.back()))
    state.SkipWithError("the echoed payload differs from what was sent");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 *
                          static_cast<int64_t>(bytes));
}

constexpr int64_t kMin = 8;
constexpr int64_t kMax = int64_t(4) << 20;

// tcp's one-thread rounds only fit while a message fits the socket buffers and the FIFO.
BENCHMARK_CAPTURE(BM_RoundTrip, shm_spin, Kind::kShm, Wait::kSpin)
    ->RangeMultiplier(8)
    ->Range(kMin, kMax)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_RoundTrip, shm_sleep, Kind::kShm, Wait::kSleep)
    ->RangeMultiplier(8)
    ->Range(kMin, kMax)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_OneThread, shm_1thread, Kind::kShm)
    ->RangeMultiplier(8)
    ->Range(kMin, int64_t(512) << 10)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_RoundTrip, tcp_spin, Kind::kTcp, Wait::kSpin)
    ->RangeMultiplier(8)
    ->Range(kMin, kMax)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_RoundTrip, tcp_sleep, Kind::kTcp, Wait::kSleep)
    ->RangeMultiplier(8)
    ->Range(kMin, kMax)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_OneThread, tcp_1thread, Kind::kTcp)
    ->RangeMultiplier(8)
    ->Range(kMin, int64_t(512) << 10)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
