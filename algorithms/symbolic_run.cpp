// The symbolic run of the verifier (symbolic.hpp, symbolic_runner.hpp): executes a compact program
// for all ranks in one buffer placement, then checks the final state (symbolic_checks.cpp). Each
// channel of each rank is a process that runs until its next step cannot
// proceed (no message to receive, or no room for the message to send); it is woken when that FIFO
// changes. The first execution error stops the run.
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

#include "algorithms/collective_spec.hpp"
#include "algorithms/symbolic_runner.hpp"

namespace plexus::algo::sym {

Arena::Arena(size_t n) {
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

uint64_t Runner::run() {
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
    if (opt_.checkOrder) checkOrder();
    if (barrier_) checkBarrier();
  }
  return delivered_;
}

bool Runner::setup() {
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
      v.order = v.hash;
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

void Runner::advance(uint32_t proc) {
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

// Reports a problem on elements [k, end) of the step, where `bad(j)` says whether element j
// has it; `b`/`off` name the slice the range is reported in.
template <typename Bad>
void Runner::failRange(uint32_t step, const CStep& s, Buffer b, uint32_t off, uint32_t k, Bad bad,
                       const std::string& problem) {
  uint32_t end = k + 1;
  while (end < s.count && bad(end)) ++end;
  fail(formatString("%s: %s at %s", p_.where(step).c_str(), problem.c_str(),
                    rangeText(b, uint64_t{off} + k, uint64_t{off} + end).c_str()));
}

Runner::Operands Runner::operandsOf(int rank, const CStep& s) const {
  Operands o;
  o.src = stepUsesSrc(s.kind);
  o.src2 = stepUsesSrc2(s.kind);
  o.dst = stepUsesDst(s.kind);
  if (o.src) o.srcA = addr(rank, s.srcBuf, s.srcOff);
  if (o.src2) o.src2A = addr(rank, s.src2Buf, s.src2Off);
  if (o.dst) o.dstA = addr(rank, s.dstBuf, s.dstOff);
  return o;
}

void Runner::execute(uint32_t proc, uint32_t step, const CStep& s, FifoState* in, FifoState* out) {
  const int r = p_.procs[proc].rank;
  Val* mem = this->mem(static_cast<size_t>(r));
  const Operands o = operandsOf(r, s);
  if (o.dst && ((o.src && overlapsPartially(o.srcA, o.dstA, s.count)) ||
                (o.src2 && overlapsPartially(o.src2A, o.dstA, s.count)))) {
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
  for (uint32_t k = 0; k < s.count; ++k) {
    Val v;
    if (!elementValue(step, s, mem, o, msg, k, v)) return;
    if (o.dst) {
      v.writer = step + 1;
      mem[o.dstA + k] = v;
    }
    if (sendData) sendData[k] = v;
  }
  if (barrier_) propagateHeard(proc, in, outNode);
  if (in) pop(*in);
  if (out) push(*out, outNode, s.count);
}

bool Runner::elementValue(uint32_t step, const CStep& s, const Val* mem, const Operands& o,
                          const Val* msg, uint32_t k, Val& v) {
  Val a, b;
  if (o.src) {
    a = mem[o.srcA + k];
    if (!a.defined) {
      failRange(
          step, s, s.srcBuf, s.srcOff, k, [&](uint32_t j) { return !mem[o.srcA + j].defined; },
          "reads elements that no step has written");
      return false;
    }
  }
  if (o.src2) {
    b = mem[o.src2A + k];
    if (!b.defined) {
      failRange(
          step, s, s.src2Buf, s.src2Off, k, [&](uint32_t j) { return !mem[o.src2A + j].defined; },
          "reads elements that no step has written");
      return false;
    }
  } else if (msg) {
    b = msg[k];
  }
  if (stepReduces(s.kind)) {
    if (!reduceElement(step, s, mem, o, msg, k, a, b, v)) return false;
  } else {
    v = o.src ? a : b;
  }
  if (!s.finalize) return true;
  if (v.finalized) {
    // Only a copied value can arrive finalized (reducing one was rejected above).
    failRange(
        step, s, o.dst ? s.dstBuf : s.srcBuf, o.dst ? s.dstOff : s.srcOff, k,
        [&](uint32_t j) { return o.src ? mem[o.srcA + j].finalized : msg[j].finalized; },
        "finalizes a value that is already finalized");
    return false;
  }
  v.finalized = 1;
  return true;
}

bool Runner::reduceElement(uint32_t step, const CStep& s, const Val* mem, const Operands& o,
                           const Val* msg, uint32_t k, const Val& a, const Val& b, Val& v) {
  if (a.finalized || b.finalized) {
    const bool local = a.finalized;
    const Buffer rb = local ? s.srcBuf : (o.dst ? s.dstBuf : s.srcBuf);
    const uint32_t ro = local ? s.srcOff : (o.dst ? s.dstOff : s.srcOff);
    failRange(
        step, s, rb, ro, k,
        [&](uint32_t j) {
          return mem[o.srcA + j].finalized ||
                 (o.src2 ? mem[o.src2A + j].finalized : msg[j].finalized);
        },
        local ? "reduces a finalized local value (finalize must come last)"
              : "reduces a finalized value received from rank " + std::to_string(s.recvPeer) +
                    " (finalize must come last)");
    return false;
  }
  if (uint64_t{a.terms} + b.terms > kMaxTerms) {  // a plan that keeps doubling a value
    const Buffer rb = o.dst ? s.dstBuf : s.srcBuf;
    const uint64_t at = uint64_t{o.dst ? s.dstOff : s.srcOff} + k;
    fail(formatString("%s: a value would hold more than %u contributions at %s",
                      p_.where(step).c_str(), kMaxTerms, rangeText(rb, at, at + 1).c_str()));
    return false;
  }
  v.hash = addMod(a.hash, b.hash);
  if (opt_.checkOrder) v.order = orderOf(a.order, b.order);
  v.terms = a.terms + b.terms;
  v.defined = 1;
  return true;
}

void Runner::propagateHeard(uint32_t proc, const FifoState* in, uint32_t outNode) {
  std::vector<uint64_t>& h = heard_[proc];
  if (in) {
    const std::vector<uint64_t>& got = nodes_[in->head].heard;
    for (size_t i = 0; i < h.size() && i < got.size(); ++i) h[i] |= got[i];
  }
  if (outNode != kNone) nodes_[outNode].heard = h;
}

uint32_t Runner::allocNode() {
  if (!freeNodes_.empty()) {
    const uint32_t id = freeNodes_.back();
    freeNodes_.pop_back();
    nodes_[id].next = kNone;
    return id;
  }
  nodes_.emplace_back();
  return static_cast<uint32_t>(nodes_.size() - 1);
}

void Runner::push(FifoState& f, uint32_t node, uint32_t count) {
  if (f.tail == kNone)
    f.head = node;
  else
    nodes_[f.tail].next = node;
  f.tail = node;
  ++f.messages;
  f.used += count;
  wake(f.reader);
}

void Runner::pop(FifoState& f) {
  const uint32_t node = f.head;
  f.head = nodes_[node].next;
  if (f.head == kNone) f.tail = kNone;
  --f.messages;
  f.used -= nodes_[node].size();
  freeNodes_.push_back(node);
  ++delivered_;
  wake(f.writer);
}

uint64_t runSymbolic(const Program& program, bool inPlace, const Coefficients& coef,
                     const VerifyOptions& options, std::vector<std::string>& errors) {
  Runner runner(program, inPlace, coef, options, errors);
  return runner.run();
}

}  // namespace plexus::algo::sym
