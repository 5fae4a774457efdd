// The symbolic run of the verifier (symbolic.hpp): executes a compact program for all ranks in one
// buffer placement, then checks completion (deadlock, leftover messages) and the collective's
// specification. Each channel of each rank is a process that runs until its next step cannot
// proceed (no message to receive, or no room for the message to send); it is woken when that FIFO
// changes. The first execution error stops the run.
#include <sys/mman.h>

#include <algorithm>
#include <cinttypes>
#include <cstdlib>
#include <deque>
#include <memory>
#include <new>

#include "algorithms/collective_spec.hpp"
#include "algorithms/symbolic.hpp"
#include "base/error.hpp"

namespace plexus::algo::sym {
namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr uint32_t kMaxTerms = (uint32_t{1} << 29);  // Val::terms has 30 bits

// A message in a FIFO; small ones (the common case in pipelined plans) are stored inline.
struct MsgNode {
  static constexpr uint32_t kInline = 4;
  uint32_t next = kNone;
  uint32_t sender = 0;  // step id that sent it
  uint32_t count = 0;
  Val small[kInline];
  std::vector<uint64_t> heard;  // barrier: the ranks whose entry happened before the send
  std::vector<Val> big;

  Val* resize(uint32_t n) {
    count = n;
    if (n <= kInline) return small;
    big.resize(n);
    return big.data();
  }
  const Val* data() const { return count <= kInline ? small : big.data(); }
  uint32_t size() const { return count; }
};

struct FifoState {
  uint32_t head = kNone, tail = kNone;
  uint32_t messages = 0;
  uint64_t used = 0;    // elements held, including a message a fused step is working on
  int64_t reader = -1;  // process waiting for a message
  int64_t writer = -1;  // process waiting for room
};

std::string rangeText(Buffer b, uint64_t begin, uint64_t end) {
  return formatString("%s[%" PRIu64 ",%" PRIu64 ")", bufferName(b), begin, end);
}

// All ranks' symbolic memory in one allocation, on huge pages when it is large: the run touches
// a different rank's memory at nearly every step, and 4 KiB pages would miss the TLB each time.
class Arena {
 public:
  explicit Arena(size_t n) {
    constexpr size_t kHuge = size_t{2} << 20;
    const size_t bytes = std::max<size_t>(n, 1) * sizeof(Val);
    if (bytes >= 2 * kHuge) {
      const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
      ptr_.reset(static_cast<Val*>(std::aligned_alloc(kHuge, rounded)));
      if (ptr_) madvise(ptr_.get(), rounded, MADV_HUGEPAGE);
    } else {
      ptr_.reset(static_cast<Val*>(std::malloc(bytes)));
    }
    if (!ptr_) throw std::bad_alloc();
    std::uninitialized_fill_n(ptr_.get(), n, Val{});
  }
  Val* data() const { return ptr_.get(); }

 private:
  struct Free {
    void operator()(Val* p) const { std::free(p); }
  };
  std::unique_ptr<Val, Free> ptr_;
};

class Runner {
 public:
  Runner(const Program& p, bool inPlace, const Coefficients& coef, const VerifyOptions& opt,
         std::vector<std::string>& errors)
      : p_(p),
        inPlace_(inPlace),
        coef_(coef),
        opt_(opt),
        errors_(errors),
        prefix_(inPlace ? "in-place: " : "out-of-place: ") {}

  uint64_t run() {
    if (!setup()) return 0;
    // Breadth first, prefetching what the processes a few places down the queue will touch:
    // a ring touches a different rank's memory at every step, so the run is bound by memory
    // latency, not by work.
    while (head_ < work_.size() && !failed_) {
      if (head_ + kPrefetchStep < work_.size()) prefetchStep(work_[head_ + kPrefetchStep]);
      if (head_ + kPrefetchData < work_.size()) prefetchData(work_[head_ + kPrefetchData]);
      const uint32_t proc = work_[head_++];
      queued_[proc] = 0;
      advance(proc);
      if (head_ > 4096 && head_ * 2 > work_.size()) {
        work_.erase(work_.begin(), work_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
      }
    }
    if (failed_) return delivered_;
    if (checkCompletion()) {  // after leftovers too: the state is final
      checkSpecification();
      if (barrier_) checkBarrier();
    }
    return delivered_;
  }

 private:
  // ---- setup -------------------------------------------------------------------------------
  bool setup() {
    const size_t n = static_cast<size_t>(p_.nranks);
    layout_.resize(n);
    memBase_.resize(n);
    uint64_t total = 0;
    for (size_t r = 0; r < n; ++r) {
      layout_[r] =
          placement(p_.collective, static_cast<int>(r), p_.count, p_.bufferCount[r], inPlace_);
      total += layout_[r].size;
    }
    if (total > opt_.maxElements) {
      fail(formatString("too large to verify symbolically: %" PRIu64
                        " elements over all ranks (limit %" PRIu64 "); verify a smaller count",
                        total, opt_.maxElements));
      return false;
    }
    arena_ = std::make_unique<Arena>(total);
    for (size_t r = 0, at = 0; r < n; at += layout_[r].size, ++r) memBase_[r] = at;
    std::string race;
    if (findChannelRace(p_, layout_, race)) {
      fail(race);
      return false;
    }
    for (size_t r = 0; r < n; ++r) {
      const uint64_t inBase = layout_[r].base[0];
      for (uint64_t i = 0; i < p_.bufferCount[r][0]; ++i) {
        Val& v = mem(r)[inBase + i];
        v.hash = coef_.input(static_cast<int>(r), i);
        v.terms = 1;
        v.defined = 1;
      }
    }
    fifos_.assign(p_.fifos.size(), FifoState{});
    barrier_ = p_.collective == Collective::kBarrier;
    if (barrier_) heard_.resize(p_.procs.size());
    pc_.resize(p_.procs.size());
    queued_.assign(p_.procs.size(), 0);
    for (uint32_t i = 0; i < p_.procs.size(); ++i) {
      pc_[i] = p_.procs[i].begin;
      if (barrier_) {
        heard_[i].assign((p_.nranks + 63) / 64, 0);
        const int r = p_.procs[i].rank;
        heard_[i][static_cast<size_t>(r / 64)] |= uint64_t{1} << (r % 64);
      }
      if (p_.procs[i].end > p_.procs[i].begin) enqueue(i);
    }
    return true;
  }

  // ---- scheduling --------------------------------------------------------------------------
  void enqueue(uint32_t proc) {
    if (queued_[proc]) return;
    queued_[proc] = 1;
    work_.push_back(proc);
  }

  static constexpr size_t kPrefetchStep = 8;
  static constexpr size_t kPrefetchData = 4;

  void prefetchStep(uint32_t proc) const {
    if (pc_[proc] < p_.procs[proc].end) __builtin_prefetch(&p_.steps[pc_[proc]]);
  }

  void prefetchData(uint32_t proc) const {
    if (pc_[proc] >= p_.procs[proc].end) return;
    const CStep& s = p_.steps[pc_[proc]];
    const int r = p_.procs[proc].rank;
    const Val* mem = this->mem(static_cast<size_t>(r));
    if (stepUsesSrc(s.kind)) __builtin_prefetch(mem + addr(r, s.srcBuf, s.srcOff));
    if (stepUsesDst(s.kind)) __builtin_prefetch(mem + addr(r, s.dstBuf, s.dstOff), 1);
    if (stepReceives(s.kind)) {
      const FifoState& f = fifos_[s.fifoIn];
      __builtin_prefetch(&f);
      if (f.head != kNone) __builtin_prefetch(&nodes_[f.head]);
    }
    if (stepSends(s.kind)) __builtin_prefetch(&fifos_[s.fifoOut], 1);
  }

  void wake(int64_t& waiter) {
    if (waiter >= 0) enqueue(static_cast<uint32_t>(waiter));
    waiter = -1;
  }

  void advance(uint32_t proc) {
    const Proc& pr = p_.procs[proc];
    uint32_t& pc = pc_[proc];
    while (pc < pr.end && !failed_) {
      const CStep& s = p_.steps[pc];
      FifoState* in = nullptr;
      FifoState* out = nullptr;
      if (stepReceives(s.kind)) {
        in = &fifos_[s.fifoIn];
        if (in->head == kNone) {
          in->reader = proc;
          return;
        }
        const MsgNode& m = nodes_[in->head];
        if (m.size() != s.count) {
          const FifoKey& k = p_.fifos[s.fifoIn];
          fail(
              formatString("%s: expects a message of %u elements but the next message from rank "
                           "%d on connection %d has %u elements (sent by %s)",
                           p_.where(pc).c_str(), s.count, k.src, k.connection, m.size(),
                           p_.where(m.sender).c_str()));
          return;
        }
      }
      if (stepSends(s.kind)) {
        out = &fifos_[s.fifoOut];
        if (p_.fifoElems > 0 && out->used + s.count > p_.fifoElems) {
          out->writer = proc;
          return;
        }
      }
      execute(proc, pc, s, in, out);
      if (failed_) return;
      ++pc;
    }
  }

  // ---- one step ----------------------------------------------------------------------------
  uint64_t addr(int rank, Buffer b, uint32_t off) const {
    return layout_[static_cast<size_t>(rank)].base[static_cast<size_t>(b)] + off;
  }

  // Reports a problem on elements [k, end) of the step, where `bad(j)` says whether element j
  // has it; `b`/`off` name the slice the range is reported in.
  template <typename Bad>
  void failRange(uint32_t step, const CStep& s, Buffer b, uint32_t off, uint32_t k, Bad bad,
                 const std::string& problem) {
    uint32_t end = k + 1;
    while (end < s.count && bad(end)) ++end;
    fail(formatString("%s: %s at %s", p_.where(step).c_str(), problem.c_str(),
                      rangeText(b, uint64_t{off} + k, uint64_t{off} + end).c_str()));
  }

  bool overlapsPartially(uint64_t a, uint64_t b, uint32_t count) const {
    return a != b && a < b + count && b < a + count;
  }

  void execute(uint32_t proc, uint32_t step, const CStep& s, FifoState* in, FifoState* out) {
    const Proc& pr = p_.procs[proc];
    const int r = pr.rank;
    Val* mem = this->mem(static_cast<size_t>(r));
    const bool usesSrc = stepUsesSrc(s.kind), usesSrc2 = stepUsesSrc2(s.kind),
               usesDst = stepUsesDst(s.kind);
    const uint64_t srcA = usesSrc ? addr(r, s.srcBuf, s.srcOff) : 0;
    const uint64_t src2A = usesSrc2 ? addr(r, s.src2Buf, s.src2Off) : 0;
    const uint64_t dstA = usesDst ? addr(r, s.dstBuf, s.dstOff) : 0;
    if (usesDst && ((usesSrc && overlapsPartially(srcA, dstA, s.count)) ||
                    (usesSrc2 && overlapsPartially(src2A, dstA, s.count)))) {
      fail(formatString("%s: source and destination overlap partially in this placement at %s",
                        p_.where(step).c_str(),
                        rangeText(s.dstBuf, s.dstOff, uint64_t{s.dstOff} + s.count).c_str()));
      return;
    }
    const Val* msg = in ? nodes_[in->head].data() : nullptr;
    uint32_t outNode = kNone;
    Val* sendData = nullptr;
    if (out) {
      outNode = allocNode();
      nodes_[outNode].sender = step;
      sendData = nodes_[outNode].resize(s.count);
    }
    const bool reduces = stepReduces(s.kind);
    for (uint32_t k = 0; k < s.count; ++k) {
      Val a, b;
      if (usesSrc) {
        a = mem[srcA + k];
        if (!a.defined) {
          failRange(
              step, s, s.srcBuf, s.srcOff, k, [&](uint32_t j) { return !mem[srcA + j].defined; },
              "reads elements that no step has written");
          return;
        }
      }
      if (usesSrc2) {
        b = mem[src2A + k];
        if (!b.defined) {
          failRange(
              step, s, s.src2Buf, s.src2Off, k, [&](uint32_t j) { return !mem[src2A + j].defined; },
              "reads elements that no step has written");
          return;
        }
      } else if (msg) {
        b = msg[k];
      }
      Val v;
      if (reduces) {
        if (a.finalized || b.finalized) {
          const bool local = a.finalized;
          const Buffer rb = local ? s.srcBuf : (usesDst ? s.dstBuf : s.srcBuf);
          const uint32_t ro = local ? s.srcOff : (usesDst ? s.dstOff : s.srcOff);
          failRange(
              step, s, rb, ro, k,
              [&](uint32_t j) {
                return mem[srcA + j].finalized ||
                       (usesSrc2 ? mem[src2A + j].finalized : msg[j].finalized);
              },
              local ? "reduces a finalized local value (finalize must come last)"
                    : "reduces a finalized value received from rank " + std::to_string(s.recvPeer) +
                          " (finalize must come last)");
          return;
        }
        if (uint64_t{a.terms} + b.terms > kMaxTerms) {  // a plan that keeps doubling a value
          fail(formatString(
              "%s: a value would hold more than %u contributions at %s", p_.where(step).c_str(),
              kMaxTerms,
              rangeText(usesDst ? s.dstBuf : s.srcBuf, uint64_t{usesDst ? s.dstOff : s.srcOff} + k,
                        uint64_t{usesDst ? s.dstOff : s.srcOff} + k + 1)
                  .c_str()));
          return;
        }
        v.hash = addMod(a.hash, b.hash);
        v.terms = a.terms + b.terms;
        v.defined = 1;
      } else {
        v = usesSrc ? a : b;
      }
      if (s.finalize) {
        if (v.finalized) {
          const Buffer rb = usesDst ? s.dstBuf : s.srcBuf;
          const uint32_t ro = usesDst ? s.dstOff : s.srcOff;
          // Only a copied value can arrive finalized (reducing one was rejected above).
          failRange(
              step, s, rb, ro, k,
              [&](uint32_t j) { return usesSrc ? mem[srcA + j].finalized : msg[j].finalized; },
              "finalizes a value that is already finalized");
          return;
        }
        v.finalized = 1;
      }
      if (usesDst) {
        v.writer = step + 1;
        mem[dstA + k] = v;
      }
      if (sendData) sendData[k] = v;
    }
    if (barrier_) {  // causality: what the received message knew, the step's send now knows
      std::vector<uint64_t>& h = heard_[proc];
      if (in) {
        const std::vector<uint64_t>& got = nodes_[in->head].heard;
        for (size_t i = 0; i < h.size() && i < got.size(); ++i) h[i] |= got[i];
      }
      if (out) nodes_[outNode].heard = h;
    }
    if (in) pop(*in);
    if (out) push(*out, outNode, s.count);
  }

  // ---- FIFOs -------------------------------------------------------------------------------
  uint32_t allocNode() {
    if (!freeNodes_.empty()) {
      const uint32_t id = freeNodes_.back();
      freeNodes_.pop_back();
      nodes_[id].next = kNone;
      return id;
    }
    nodes_.emplace_back();
    return static_cast<uint32_t>(nodes_.size() - 1);
  }

  void push(FifoState& f, uint32_t node, uint32_t count) {
    if (f.tail == kNone)
      f.head = node;
    else
      nodes_[f.tail].next = node;
    f.tail = node;
    ++f.messages;
    f.used += count;
    wake(f.reader);
  }

  void pop(FifoState& f) {
    const uint32_t node = f.head;
    f.head = nodes_[node].next;
    if (f.head == kNone) f.tail = kNone;
    --f.messages;
    f.used -= nodes_[node].size();
    freeNodes_.push_back(node);
    ++delivered_;
    wake(f.writer);
  }

  // ---- completion and specification ---------------------------------------------------------
  // The process of `rank` on `connection`, or kNone.
  uint32_t procOn(int rank, int connection) const {
    for (uint32_t i = 0; i < p_.procs.size(); ++i) {
      const Proc& q = p_.procs[i];
      if (q.rank == rank && q.connection == connection) return i;
    }
    return kNone;
  }

  // Steps left in process `proc` that send to (or receive from) `peer`.
  uint64_t remainingWith(uint32_t proc, int peer, bool sends) const {
    uint64_t n = 0;
    for (uint32_t i = pc_[proc]; i < p_.procs[proc].end; ++i) {
      const CStep& s = p_.steps[i];
      if (sends ? (stepSends(s.kind) && s.sendPeer == peer)
                : (stepReceives(s.kind) && s.recvPeer == peer)) {
        ++n;
      }
    }
    return n;
  }

  std::string procState(uint32_t proc) const {
    const Proc& q = p_.procs[proc];
    if (pc_[proc] >= q.end) {
      return formatString("rank %d channel %d has finished", q.rank, q.channel);
    }
    return formatString("rank %d is blocked at channel %d step %u", q.rank, q.channel,
                        pc_[proc] - q.begin);
  }

  std::string waitReason(uint32_t step) const {
    const CStep& s = p_.steps[step];
    if (stepReceives(s.kind) && fifos_[s.fifoIn].head == kNone) {
      const FifoKey& k = p_.fifos[s.fifoIn];
      const uint32_t q = procOn(k.src, k.connection);
      if (q == kNone) {
        return formatString(
            "waits for a message from rank %d, which has no channel on "
            "connection %d",
            k.src, k.connection);
      }
      const uint64_t left = remainingWith(q, k.dst, true);
      return formatString(
          "waits for a message from rank %d on connection %d that never arrives "
          "(%s; it has %" PRIu64 " sends to rank %d left)",
          k.src, k.connection, procState(q).c_str(), left, k.dst);
    }
    const FifoKey& k = p_.fifos[s.fifoOut];
    const FifoState& f = fifos_[s.fifoOut];
    const uint32_t q = procOn(k.dst, k.connection);
    return formatString(
        "waits for room for %u elements in the FIFO to rank %d on connection "
        "%d, which holds %" PRIu64 " of %" PRIu64 " elements in %u unreceived messages (%s)",
        s.count, k.dst, k.connection, f.used, p_.fifoElems, f.messages,
        q == kNone ? "no receiver" : procState(q).c_str());
  }

  // Messages that their receiver will never take: more than its remaining receives from the
  // sender. Reports the first surplus message of each such FIFO.
  void reportSurplus() {
    for (size_t i = 0; i < fifos_.size() && errors_.size() < opt_.maxErrors + 1; ++i) {
      const FifoState& f = fifos_[i];
      if (f.messages == 0) continue;
      const FifoKey& k = p_.fifos[i];
      const uint32_t q = procOn(k.dst, k.connection);
      const uint64_t left = q == kNone ? 0 : remainingWith(q, k.src, false);
      if (f.messages <= left) continue;
      uint32_t node = f.head;
      for (uint64_t j = 0; j < left; ++j) node = nodes_[node].next;
      report(formatString(
          "%s sent a message of %u elements that rank %d never receives "
          "(%u messages wait on connection %d, %s with %" PRIu64 " receives from rank %d left)",
          p_.where(nodes_[node].sender).c_str(), nodes_[node].size(), k.dst, f.messages,
          k.connection, q == kNone ? "no receiver" : procState(q).c_str(), left, k.src));
    }
  }

  // Reports deadlocks and unreceived messages; false when deadlocked.
  bool checkCompletion() {
    std::vector<uint32_t> stuck;
    for (uint32_t i = 0; i < p_.procs.size(); ++i) {
      if (pc_[i] < p_.procs[i].end) stuck.push_back(i);
    }
    if (stuck.empty()) {
      reportSurplus();
      return true;
    }
    uint64_t inFlight = 0;
    for (const FifoState& f : fifos_) inFlight += f.messages;
    std::string text = formatString("deadlock: %zu of %zu channels cannot finish (%" PRIu64
                                    " messages in flight); stuck:",
                                    stuck.size(), p_.procs.size(), inFlight);
    for (size_t j = 0; j < stuck.size() && j < opt_.maxErrors; ++j) {
      const uint32_t step = pc_[stuck[j]];
      text += "\n  " + p_.where(step) + ": " + waitReason(step);
    }
    if (stuck.size() > opt_.maxErrors) {
      text += formatString("\n  ... and %zu more", stuck.size() - opt_.maxErrors);
    }
    fail(text);
    reportSurplus();
    return false;  // deadlocked: the final state is not reached
  }

  void checkSpecification() {
    int badRanks = 0;
    for (int r = 0; r < p_.nranks; ++r) {
      const size_t rr = static_cast<size_t>(r);
      const uint64_t outBase = layout_[rr].base[1];
      const uint64_t outCount = p_.bufferCount[rr][1];
      const Val* mem = this->mem(rr);
      auto wrong = [&](uint64_t i, Val& want) {
        if (!expectedOutput(p_, r, i, coef_, want)) return false;
        const Val& got = mem[outBase + i];
        return got.defined != want.defined || got.hash != want.hash || got.terms != want.terms ||
               got.finalized != want.finalized;
      };
      Val want;
      uint64_t first = outCount;
      for (uint64_t i = 0; i < outCount; ++i) {
        if (wrong(i, want)) {
          first = i;
          break;
        }
      }
      if (first == outCount) continue;
      ++badRanks;
      if (errors_.size() >= opt_.maxErrors) continue;
      uint64_t end = first + 1;
      Val tmp;
      while (end < outCount && wrong(end, tmp)) ++end;
      uint64_t total = 0;
      for (uint64_t i = first; i < outCount; ++i) total += wrong(i, tmp) ? 1 : 0;
      wrong(first, want);
      const Val& got = mem[outBase + first];
      const uint32_t lw = got.writer;
      const std::string writerText =
          lw == 0 ? std::string("no step wrote it") : "last written by " + p_.where(lw - 1);
      report(formatString("rank %d %s is wrong (%" PRIu64
                          " wrong elements on this rank): element %" PRIu64 " %s; %s",
                          r, rangeText(Buffer::kOutput, first, end).c_str(), total, first,
                          explainMismatch(p_, r, first, got, want, coef_).c_str(),
                          writerText.c_str()));
    }
    if (badRanks > 0 && errors_.size() >= opt_.maxErrors) {
      report(formatString("%d ranks have wrong output elements in all", badRanks));
    }
  }

  // A barrier must not let any rank leave before every rank has entered: the union of what the
  // channels of each rank have heard (transitively, through messages) must be every rank.
  void checkBarrier() {
    const size_t words = (static_cast<size_t>(p_.nranks) + 63) / 64;
    for (int r = 0; r < p_.nranks && errors_.size() < opt_.maxErrors; ++r) {
      std::vector<uint64_t> all(words, 0);
      for (uint32_t i = 0; i < p_.procs.size(); ++i) {
        if (p_.procs[i].rank != r) continue;
        for (size_t k = 0; k < words; ++k) all[k] |= heard_[i][k];
      }
      for (int s = 0; s < p_.nranks; ++s) {
        if (!(all[static_cast<size_t>(s / 64)] >> (s % 64) & 1)) {
          report(
              formatString("barrier: rank %d can leave before rank %d has entered (no chain of "
                           "messages leads from rank %d to rank %d)",
                           r, s, s, r));
          break;
        }
      }
    }
  }

  void report(const std::string& e) { errors_.push_back(prefix_ + e); }
  void fail(const std::string& e) {
    report(e);
    failed_ = true;
  }

  const Program& p_;
  const bool inPlace_;
  const Coefficients& coef_;
  const VerifyOptions& opt_;
  std::vector<std::string>& errors_;
  const std::string prefix_;
  bool failed_ = false;
  uint64_t delivered_ = 0;

  std::vector<Layout> layout_;
  std::vector<uint64_t> memBase_;  // each rank's memory in the arena
  std::unique_ptr<Arena> arena_;
  Val* mem(size_t rank) const { return arena_->data() + memBase_[rank]; }
  std::vector<FifoState> fifos_;
  bool barrier_ = false;
  std::vector<std::vector<uint64_t>> heard_;  // barrier: per process, ranks heard from
  std::deque<MsgNode> nodes_;                 // stable addresses
  std::vector<uint32_t> freeNodes_;
  std::vector<uint32_t> pc_;
  std::vector<char> queued_;
  std::vector<uint32_t> work_;  // queue: [head_, end)
  size_t head_ = 0;
};

}  // namespace

uint64_t runSymbolic(const Program& program, bool inPlace, const Coefficients& coef,
                     const VerifyOptions& options, std::vector<std::string>& errors) {
  Runner runner(program, inPlace, coef, options, errors);
  return runner.run();
}

}  // namespace plexus::algo::sym
