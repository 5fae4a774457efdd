// Internal to the verifier: the state of one symbolic run (symbolic.hpp: runSymbolic).
// symbolic_run.cpp executes the program (each channel of each rank a process that runs until its
// next step cannot proceed, woken when that FIFO changes); symbolic_checks.cpp checks the final
// state (deadlock, messages never received, the collective's specification, the barrier).
#pragma once

#include <cinttypes>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "algorithms/symbolic.hpp"
#include "base/error.hpp"

namespace plexus::algo::sym {

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

inline std::string rangeText(Buffer b, uint64_t begin, uint64_t end) {
  return formatString("%s[%" PRIu64 ",%" PRIu64 ")", bufferName(b), begin, end);
}

// All ranks' symbolic memory in one allocation, on huge pages when it is large: the run touches
// a different rank's memory at nearly every step, and 4 KiB pages would miss the TLB each time.
class Arena {
 public:
  explicit Arena(size_t n);
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

  // Runs the program, then checks the final state; returns the messages delivered.
  uint64_t run();

 private:
  // ---- execution (symbolic_run.cpp) ---------------------------------------------------------
  // The hot path: declared inline (and defined in symbolic_run.cpp, the one file that calls it)
  // so that the compiler inlines it as it did when all of it was one function.
  bool setup();
  inline void advance(uint32_t proc);
  inline void execute(uint32_t proc, uint32_t step, const CStep& s, FifoState* in, FifoState* out);

  // The addresses of the slices a step uses on its rank.
  struct Operands {
    bool src = false, src2 = false, dst = false;
    uint64_t srcA = 0, src2A = 0, dstA = 0;
  };
  // The per-element functions run for every element of every step: inlined into execute()
  // (symbolic_run.cpp), like the loop they came from.
  [[gnu::always_inline]] inline Operands operandsOf(int rank, const CStep& s) const;
  // The value element k of the step stores or sends; false after reporting why it cannot.
  [[gnu::always_inline]] inline bool elementValue(uint32_t step, const CStep& s, const Val* mem,
                                                  const Operands& o, const Val* msg, uint32_t k,
                                                  Val& v);
  [[gnu::always_inline]] inline bool reduceElement(uint32_t step, const CStep& s, const Val* mem,
                                                   const Operands& o, const Val* msg, uint32_t k,
                                                   const Val& a, const Val& b, Val& v);
  // Barrier causality: what the received message knew, the step's send now knows.
  inline void propagateHeard(uint32_t proc, const FifoState* in, uint32_t outNode);
  template <typename Bad>
  void failRange(uint32_t step, const CStep& s, Buffer b, uint32_t off, uint32_t k, Bad bad,
                 const std::string& problem);

  inline uint32_t allocNode();
  inline void push(FifoState& f, uint32_t node, uint32_t count);
  inline void pop(FifoState& f);

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

  uint64_t addr(int rank, Buffer b, uint32_t off) const {
    return layout_[static_cast<size_t>(rank)].base[static_cast<size_t>(b)] + off;
  }
  bool overlapsPartially(uint64_t a, uint64_t b, uint32_t count) const {
    return a != b && a < b + count && b < a + count;
  }

  // ---- the final state (symbolic_checks.cpp) -------------------------------------------------
  uint32_t procOn(int rank, int connection) const;
  uint64_t remainingWith(uint32_t proc, int peer, bool sends) const;
  std::string procState(uint32_t proc) const;
  std::string waitReason(uint32_t step) const;
  void reportSurplus();
  bool checkCompletion();
  void checkSpecification();
  void checkOrder();
  void checkBarrier();

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

}  // namespace plexus::algo::sym
