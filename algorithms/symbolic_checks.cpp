// The checks of a symbolic run's final state (symbolic_runner.hpp): deadlock (every blocked
// channel with the reason it waits), messages that are never received, the collective's
// specification (the first wrong range per rank, explained), and the barrier's causality.
#include <unordered_map>

#include "algorithms/collective_spec.hpp"
#include "algorithms/symbolic_runner.hpp"

namespace plexus::algo::sym {

// The process of `rank` on `connection`, or kNone.
uint32_t Runner::procOn(int rank, int connection) const {
  for (uint32_t i = 0; i < p_.procs.size(); ++i) {
    const Proc& q = p_.procs[i];
    if (q.rank == rank && q.connection == connection) return i;
  }
  return kNone;
}

// Steps left in process `proc` that send to (or receive from) `peer`.
uint64_t Runner::remainingWith(uint32_t proc, int peer, bool sends) const {
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

std::string Runner::procState(uint32_t proc) const {
  const Proc& q = p_.procs[proc];
  if (pc_[proc] >= q.end) {
    return formatString("rank %d channel %d has finished", q.rank, q.channel);
  }
  return formatString("rank %d is blocked at channel %d step %u", q.rank, q.channel,
                      pc_[proc] - q.begin);
}

std::string Runner::waitReason(uint32_t step) const {
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
void Runner::reportSurplus() {
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
        p_.where(nodes_[node].sender).c_str(), nodes_[node].size(), k.dst, f.messages, k.connection,
        q == kNone ? "no receiver" : procState(q).c_str(), left, k.src));
  }
}

// Reports deadlocks and unreceived messages; false when deadlocked.
bool Runner::checkCompletion() {
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

void Runner::checkSpecification() {
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
    report(formatString(
        "rank %d %s is wrong (%" PRIu64 " wrong elements on this rank): element %" PRIu64 " %s; %s",
        r, rangeText(Buffer::kOutput, first, end).c_str(), total, first,
        explainMismatch(p_, r, first, got, want, coef_).c_str(), writerText.c_str()));
  }
  if (badRanks > 0 && errors_.size() >= opt_.maxErrors) {
    report(formatString("%d ranks have wrong output elements in all", badRanks));
  }
}

// Reproducible mode: every reduced output element that holds the right contributions must also
// have combined them in the canonical tree (elements with wrong contributions were reported by
// checkSpecification). Reports the first such element per rank and the count.
void Runner::checkOrder() {
  std::unordered_map<uint64_t, uint64_t> canonical;  // input index -> canonical order
  for (int r = 0; r < p_.nranks && errors_.size() < opt_.maxErrors; ++r) {
    const size_t rr = static_cast<size_t>(r);
    const uint64_t outBase = layout_[rr].base[1];
    const Val* mem = this->mem(rr);
    uint64_t bad = 0, first = 0;
    for (uint64_t i = 0; i < p_.bufferCount[rr][1]; ++i) {
      uint64_t index = 0;
      Val want;
      if (!reductionIndex(p_, r, i, index) || !expectedOutput(p_, r, i, coef_, want)) continue;
      const Val& got = mem[outBase + i];
      if (!got.defined || got.hash != want.hash || got.terms != want.terms) continue;
      auto it = canonical.find(index);
      if (it == canonical.end())
        it = canonical.emplace(index, canonicalOrder(coef_, p_.nranks, index)).first;
      if (got.order == it->second) continue;
      if (bad++ == 0) first = i;
    }
    if (bad == 0) continue;
    const uint32_t lw = mem[outBase + first].writer;
    report(formatString(
        "rank %d output[%" PRIu64 "] (and %" PRIu64
        " more elements on this rank) holds every contribution once but not combined in the "
        "canonical order (reproducible mode: the pairwise tree over rank ids of canonical.hpp); %s",
        r, first, bad - 1,
        lw == 0 ? "no step wrote it" : ("last written by " + p_.where(lw - 1)).c_str()));
  }
}

// A barrier must not let any rank leave before every rank has entered: the union of what the
// channels of each rank have heard (transitively, through messages) must be every rank.
void Runner::checkBarrier() {
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

}  // namespace plexus::algo::sym
