// Small all-reduce on one host (runtime/small_all_reduce.hpp): the segment, its set-up at init,
// and one call.
#include "runtime/small_all_reduce.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/futex.hpp"
#include "base/log.hpp"
#include "kernels/datatype.hpp"
#include "kernels/reduce.hpp"

namespace plexus::runtime {

// Segment: [header line][bell line][notice words, one line per 16 ranks][cells of parity 0, by
// rank][cells of parity 1, by rank]. A cell: the call number (8 bytes, written last), the call's
// signature (4) and bytes (4), then the payload; cells are whole cache lines.
struct SmallAllReduce::Layout {
  static constexpr uint64_t kMagic = 0x4c4c414d53584c50ull;  // "PLXSMALL"
  static constexpr size_t kLine = 64;
  static constexpr size_t kPayload = 16;
  struct Header {
    uint64_t magic;
    uint32_t nranks;
    uint32_t cellBytes;
    uint64_t maxBytes;
  };
  struct Bell {
    std::atomic<uint32_t> word;
    std::atomic<uint32_t> sleepers;
  };
  static size_t cellBytes(uint64_t maxBytes) {
    return (kPayload + maxBytes + kLine - 1) / kLine * kLine;
  }
  static size_t noticeBytes(int nranks) {
    return (static_cast<size_t>(nranks) * 4 + kLine - 1) / kLine * kLine;
  }
  static size_t cellsOffset(int nranks) { return 2 * kLine + noticeBytes(nranks); }
  static size_t size(int nranks, uint64_t maxBytes) {
    return cellsOffset(nranks) + 2 * static_cast<size_t>(nranks) * cellBytes(maxBytes);
  }
  static Header* header(void* base) { return static_cast<Header*>(base); }
  static Bell* bell(void* base) {
    return reinterpret_cast<Bell*>(static_cast<std::byte*>(base) + kLine);
  }
  // Rank r's failure notice: 0 while it is well, 1 + the rank it blames once a call failed.
  static std::atomic<int32_t>* notice(void* base, int r) {
    return reinterpret_cast<std::atomic<int32_t>*>(static_cast<std::byte*>(base) + 2 * kLine) + r;
  }
  static std::atomic<uint64_t>& seq(std::byte* cell) {
    return *reinterpret_cast<std::atomic<uint64_t>*>(cell);
  }
  static std::atomic<uint32_t>& signature(std::byte* cell) {
    return *reinterpret_cast<std::atomic<uint32_t>*>(cell + 8);
  }
};

namespace {

using Clock = std::chrono::steady_clock;
// The most payload that shares the cache line of its cell's call number.
constexpr size_t kInlineBytes = 48;

uint32_t signatureOf(size_t count, DataType type, RedOp op) {
  uint64_t h = count * 0x9e3779b97f4a7c15ull;
  h ^= (static_cast<uint64_t>(type) << 8 | static_cast<uint64_t>(op)) + 0x632be59bd9b4e019ull;
  h ^= h >> 29;
  return static_cast<uint32_t>(h) | 1u;  // never 0
}

// memcpy without the call for the few bytes most posts carry.
void copyPayload(std::byte* dst, const void* src, size_t bytes) {
  if (bytes > kInlineBytes) {
    std::memcpy(dst, src, bytes);
    return;
  }
  const auto* s = static_cast<const std::byte*>(src);
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) std::memcpy(dst + i, s + i, 8);
  for (; i < bytes; ++i) dst[i] = s[i];
}

}  // namespace

uint64_t smallAllReduceMaxFromEnv(int nranks) {
  // Measured on the 2-core VM (docs/performance.md, "Small all-reduce"): one-shot through the
  // segment beats the engine up to 16 KiB at 2, 4 and 8 ranks. Every rank reads every rank's
  // cell, so with more ranks the bound shrinks: 128 KiB read per call at most.
  const uint64_t fallback = std::min<uint64_t>(16 << 10, (128 << 10) / std::max(nranks, 1));
  return envSize("SMALL_MAX", fallback);
}

std::string smallAllReduceObstacle(const SmallAllReduceSetup& s) {
  if (s.nranks > kSmallAllReduceMaxRanks)
    return std::to_string(s.nranks) + " ranks (at most " + std::to_string(kSmallAllReduceMaxRanks) +
           ")";
  const auto self = static_cast<size_t>(s.rank);
  for (size_t r = 0; r < s.hostHashes.size(); ++r)
    if (s.hostHashes[r] != s.hostHashes[self])
      return "rank " + std::to_string(r) + " is on host " + s.hostNames[r];
  return "";
}

SmallAllReduce::SmallAllReduce(SmallAllReduceSetup setup, uint64_t maxBytes, ShmSegment segment)
    : setup_(std::move(setup)),
      maxBytes_(maxBytes),
      cellBytes_(Layout::cellBytes(maxBytes)),
      segment_(std::move(segment)) {
  samePid_ = true;
  for (int pid : setup_.pids)
    if (pid != setup_.pids[static_cast<size_t>(setup_.rank)]) samePid_ = false;
}

SmallAllReduce::~SmallAllReduce() = default;

std::unique_ptr<SmallAllReduce> SmallAllReduce::create(SmallAllReduceSetup setup,
                                                       uint64_t maxBytes) {
  const int n = setup.nranks;
  // Round 1: rank 0 makes the segment and publishes its maximum and the segment's name.
  ShmSegment seg;
  std::string mine;
  if (setup.rank == 0) {
    if (maxBytes > 0) {
      maxBytes = std::min<uint64_t>(maxBytes, 1u << 20);
      seg = ShmSegment::create("plexus-small-allreduce", Layout::size(n, maxBytes));
      *Layout::header(seg.data()) = {Layout::kMagic, static_cast<uint32_t>(n),
                                     static_cast<uint32_t>(Layout::cellBytes(maxBytes)), maxBytes};
      mine = std::to_string(maxBytes) + " /proc/" + std::to_string(getpid()) + "/fd/" +
             std::to_string(seg.fd());
    } else {
      mine = "0";
    }
  }
  const std::vector<std::string> round1 = setup.allGather(mine);
  const std::string& root = round1.at(0);
  const uint64_t agreed = std::strtoull(root.c_str(), nullptr, 10);
  if (agreed == 0) return nullptr;  // every rank read the same 0
  // Round 2: every other rank maps it and says whether it could.
  std::string failure;
  if (setup.rank != 0) {
    const std::string name = root.substr(root.find(' ') + 1);
    try {
      Fd fd(open(name.c_str(), O_RDWR | O_CLOEXEC));
      if (!fd)
        throwSystemError(errno,
                         "cannot open rank 0's segment %s (check that this process may "
                         "read rank 0's /proc entries)",
                         name.c_str());
      struct stat st {};
      if (fstat(fd.get(), &st) != 0) throwSystemError(errno, "fstat of %s", name.c_str());
      seg = ShmSegment::map(std::move(fd), static_cast<size_t>(st.st_size),
                            "rank 0's small all-reduce segment");
      const auto* h = Layout::header(seg.data());
      if (seg.size() < Layout::size(n, agreed) || h->magic != Layout::kMagic ||
          h->nranks != static_cast<uint32_t>(n) || h->maxBytes != agreed)
        throwError(ErrorCode::kInternal, "%s is not rank 0's small all-reduce segment",
                   name.c_str());
    } catch (const Error& e) {
      failure = "rank " + std::to_string(setup.rank) + ": " + e.what();
    }
  }
  const std::vector<std::string> round2 = setup.allGather(failure);
  if (setup.rank == 0) seg.closeFd();  // every rank holds a mapping now (or gave up)
  for (const auto& f : round2)
    if (!f.empty()) {
      PLEXUS_INFO(subsys::kInit, "%s: small all-reduces stay on the engine: %s",
                  setup.context.c_str(), f.c_str());
      return nullptr;
    }
  if (setup.rank == 0)
    PLEXUS_INFO(subsys::kInit,
                "%s: all-reduces of up to %llu bytes run one-shot through a shared segment "
                "(PLEXUS_SMALL_MAX; %zu bytes for %d ranks)",
                setup.context.c_str(), static_cast<unsigned long long>(agreed), seg.size(), n);
  return std::unique_ptr<SmallAllReduce>(
      new SmallAllReduce(std::move(setup), agreed, std::move(seg)));
}

std::shared_ptr<const algo::Plan> SmallAllReduce::plan(uint64_t count) const {
  auto p = std::make_shared<algo::Plan>();
  p->algorithm = "small";
  p->collective = algo::Collective::kAllReduce;
  p->nranks = setup_.nranks;
  p->rank = setup_.rank;
  p->count = count;
  p->inputCount = count;
  p->outputCount = count;
  return p;
}

std::byte* SmallAllReduce::cell(int parity, int rank) const {
  return static_cast<std::byte*>(segment_.data()) + Layout::cellsOffset(setup_.nranks) +
         (static_cast<size_t>(parity) * static_cast<size_t>(setup_.nranks) +
          static_cast<size_t>(rank)) *
             cellBytes_;
}

std::string SmallAllReduce::where(int peer) const {
  const auto p = static_cast<size_t>(peer);
  return formatString("rank %d (host %s, pid %d)", peer, setup_.hostNames[p].c_str(),
                      setup_.pids[p]);
}

void SmallAllReduce::fail(ErrorCode code, const std::string& message, int blamed) {
  broken_ = message;
  brokenCode_ = code;
  Layout::notice(segment_.data(), setup_.rank)
      ->store(1 + (blamed >= 0 ? blamed : setup_.rank), std::memory_order_release);
  throw Error(code, message);
}

// A rank that posted looks whether a peer sleeps after its post is visible (the seq_cst store, or
// payRing's fence): a sleeper counts itself in `sleepers` (seq_cst) before its last look at the
// cells, so either it sees the post or this rank sees it and rings.
void SmallAllReduce::ringIfSleepers() {
  if (Layout::bell(segment_.data())->sleepers.load(std::memory_order_seq_cst) != 0) ring();
}

void SmallAllReduce::ring() {
  Layout::Bell* b = Layout::bell(segment_.data());
  b->word.fetch_add(1, std::memory_order_seq_cst);
  futexWakeAll(&b->word, true);
}

void SmallAllReduce::payRing() {
  if (!ringOwed_) return;
  ringOwed_ = false;
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer does not model fences: an RMW on `sleepers` gives the same store-load order.
  if (Layout::bell(segment_.data())->sleepers.fetch_add(0, std::memory_order_seq_cst) != 0) ring();
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
  ringIfSleepers();
#endif
}

void SmallAllReduce::checkPeers(int waitingFor, uint64_t k) {
  const char* ctx = setup_.context.c_str();
  if (setup_.abort != nullptr && setup_.abort->load(std::memory_order_relaxed))
    fail(ErrorCode::kRemote,
         formatString("%s: the communicator was aborted while small all-reduce #%llu waited for "
                      "%s",
                      ctx, static_cast<unsigned long long>(k), where(waitingFor).c_str()),
         setup_.rank);
  for (int r = 0; r < setup_.nranks; ++r) {
    if (r == setup_.rank) continue;
    const int32_t blamed = Layout::notice(segment_.data(), r)->load(std::memory_order_acquire);
    if (blamed != 0)
      fail(ErrorCode::kRemote,
           formatString("%s: small all-reduce #%llu: %s failed (it names rank %d as the cause) "
                        "while this rank waited for %s",
                        ctx, static_cast<unsigned long long>(k), where(r).c_str(), blamed - 1,
                        where(waitingFor).c_str()),
           blamed - 1);
  }
  const pid_t pid = setup_.pids[static_cast<size_t>(waitingFor)];
  if (!samePid_ && pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
    fail(ErrorCode::kRemote,
         formatString("%s: %s exited while small all-reduce #%llu waited for its input (check "
                      "its log for why)",
                      ctx, where(waitingFor).c_str(), static_cast<unsigned long long>(k)),
         waitingFor);
  if (setup_.pollPeers) {
    try {
      setup_.pollPeers();
    } catch (const Error& e) {
      fail(e.code(), e.what(), -1);
    }
  }
}

bool SmallAllReduce::arrived() {
  const int n = setup_.nranks;
  for (; p_.next < n; ++p_.next) {
    if (p_.next == setup_.rank) continue;
    std::byte* c = cell(p_.parity, p_.next);
    if (Layout::seq(c).load(std::memory_order_acquire) != p_.k) return false;
    if (Layout::signature(c).load(std::memory_order_relaxed) != p_.signature)
      fail(ErrorCode::kInvalidUsage,
           formatString("%s: small all-reduce #%llu of %zu bytes: %s called an all-reduce with "
                        "another count, type or op. Check that every rank calls the same "
                        "operations in the same order",
                        setup_.context.c_str(), static_cast<unsigned long long>(p_.k), p_.bytes,
                        where(p_.next).c_str()),
           setup_.rank);
  }
  return true;
}

// Called while waiting, with the clock: notes an arrival, and about every millisecond looks at
// the peers and the timeout.
void SmallAllReduce::checkWait(Clock::time_point now) {
  if (p_.lastArrival == Clock::time_point{}) {  // the first look at the clock of this call
    p_.seen = p_.next;
    p_.lastArrival = now;
    p_.nextCheck = now + std::chrono::milliseconds(1);
    return;
  }
  if (p_.next != p_.seen) {
    p_.seen = p_.next;
    p_.lastArrival = now;
  }
  if (now < p_.nextCheck) return;
  p_.nextCheck = now + std::chrono::milliseconds(1);
  checkPeers(p_.next, p_.k);
  if (now - p_.lastArrival > setup_.timeout)
    fail(ErrorCode::kRemote,
         formatString("%s: no progress for %.3g s (PLEXUS_TIMEOUT): small all-reduce #%llu of "
                      "%zu bytes waits for %s to post its input. Check that every rank calls the "
                      "same operations in the same order, and that the peer is alive",
                      setup_.context.c_str(), std::chrono::duration<double>(setup_.timeout).count(),
                      static_cast<unsigned long long>(p_.k), p_.bytes, where(p_.next).c_str()),
         p_.next);
}

void SmallAllReduce::waitAll() {
  // The first turns only poll: most calls end within them, without reading the clock.
  const bool poll = setup_.spin.count() > 0;
  for (int turn = 0; turn < (poll ? 64 : 1); ++turn) {
    if (arrived()) return;
    cpuRelax();
  }
  Layout::Bell* bell = Layout::bell(segment_.data());
  const auto start = Clock::now();
  const auto spinEnd = start + setup_.spin;
  const auto yieldEnd = spinEnd + setup_.yield;
  bool polling = poll;
  for (uint32_t turn = 1;; ++turn) {
    if (arrived()) return;
    if (polling && turn % 64 != 0) {
      cpuRelax();  // the clock is read every 64 turns while polling
      continue;
    }
    const auto now = Clock::now();
    checkWait(now);
    if (now < spinEnd) {
      cpuRelax();
      continue;
    }
    polling = false;
    payRing();  // before this rank gives its core away
    if (now < yieldEnd) {
      sched_yield();
      continue;
    }
    // Sleep until a posting rank rings (it looks at `sleepers` after its post) or 10 ms pass.
    bell->sleepers.fetch_add(1, std::memory_order_seq_cst);
    const uint32_t rung = bell->word.load(std::memory_order_seq_cst);
    if (!arrived()) futexWait(&bell->word, rung, std::chrono::milliseconds(10), true);
    bell->sleepers.fetch_sub(1, std::memory_order_seq_cst);
  }
}

void SmallAllReduce::post(const void* input, void* output, size_t count, DataType type, RedOp op) {
  if (!broken_.empty()) throw Error(brokenCode_, broken_);
  p_ = Pending{};  // its clocks stay zero until the first wait reads the clock
  p_.input = input;
  p_.output = output;
  p_.count = count;
  p_.type = type;
  p_.op = op;
  p_.bytes = count * dataTypeSize(type);
  if (setup_.nranks == 1) return;  // the segment is not needed: the result is the input
  p_.k = ++calls_;
  p_.parity = static_cast<int>(p_.k & 1);
  p_.signature = signatureOf(count, type, op);
  std::byte* mine = cell(p_.parity, setup_.rank);
  copyPayload(mine + Layout::kPayload, input, p_.bytes);
  Layout::signature(mine).store(p_.signature, std::memory_order_relaxed);
  // A payload in the flag's line: a seq_cst store, which waits for the line before this rank
  // polls its peers (measured faster than letting it drain while polling). A longer payload: a
  // release store that drains while this rank polls; the fence that orders it before the look at
  // `sleepers` comes after the poll (a sleeper has waited a millisecond already).
  if (p_.bytes <= kInlineBytes) {
    Layout::seq(mine).store(p_.k, std::memory_order_seq_cst);
    ringIfSleepers();
  } else {
    Layout::seq(mine).store(p_.k, std::memory_order_release);
    ringOwed_ = true;
  }
}

// Every rank reduces the cells in rank order: the same bits everywhere.
void SmallAllReduce::finish() {
  const int n = setup_.nranks;
  if (n == 1) {
    if (p_.output != p_.input) std::memcpy(p_.output, p_.input, p_.bytes);
    return;
  }
  payRing();
  reduceBuffers(p_.type, p_.op, p_.output, cell(p_.parity, 0) + Layout::kPayload,
                cell(p_.parity, 1) + Layout::kPayload, p_.count);
  for (int r = 2; r < n; ++r)
    reduceBuffers(p_.type, p_.op, p_.output, p_.output, cell(p_.parity, r) + Layout::kPayload,
                  p_.count);
  if (p_.op == RedOp::kAvg) finalizeAverage(p_.type, p_.output, p_.output, p_.count, n);
}

bool SmallAllReduce::poll() {
  if (setup_.nranks > 1 && !arrived()) {
    checkWait(Clock::now());
    return false;
  }
  finish();
  return true;
}

void SmallAllReduce::call(const void* input, void* output, size_t count, DataType type, RedOp op) {
  post(input, output, count, type, op);
  if (setup_.nranks > 1) waitAll();
  finish();
}

}  // namespace plexus::runtime
