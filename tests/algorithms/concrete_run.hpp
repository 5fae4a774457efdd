// A tiny concrete executor for tests: runs the plans of all ranks on int64 data (sum as the
// reduction, negation as the "finalize" post-processing so that a missing or doubled finalize
// shows) with unbounded FIFOs, round-robin. It is independent of the symbolic verifier and
// checks the builders against plain arithmetic for small rank counts.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "algorithms/plan.hpp"

namespace plexus::algo::testing {

struct ConcreteRank {
  std::vector<int64_t> memory;  // input, output and scratch, aliased as the placement says
  uint64_t inputBase = 0, outputBase = 0, scratchBase = 0;
};

// Input element i of rank r.
inline int64_t concreteInput(int r, uint64_t i) {
  return static_cast<int64_t>(r + 1) * 1000003 + static_cast<int64_t>(i) * 7 + 11;
}

// In-place bases follow plan.hpp; out-of-place puts input, output, scratch one after another.
inline std::vector<ConcreteRank> concreteRun(const std::vector<Plan>& plans, bool inPlace) {
  const int n = static_cast<int>(plans.size());
  std::vector<ConcreteRank> ranks(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    const Plan& p = plans[static_cast<size_t>(r)];
    ConcreteRank& cr = ranks[static_cast<size_t>(r)];
    uint64_t size = 0;
    if (!inPlace) {
      cr.inputBase = 0;
      cr.outputBase = p.inputCount;
      size = p.inputCount + p.outputCount;
    } else {
      switch (p.collective) {
        case Collective::kAllGather:
          cr.inputBase = static_cast<uint64_t>(r) * p.count;
          size = p.outputCount;
          break;
        case Collective::kReduceScatter:
          cr.outputBase = static_cast<uint64_t>(r) * p.count;
          size = p.inputCount;
          break;
        default:
          size = std::max(p.inputCount, p.outputCount);
          break;
      }
    }
    cr.scratchBase = size;
    size += p.scratchCount;
    cr.memory.assign(size, -777);
    for (uint64_t i = 0; i < p.inputCount; ++i) cr.memory[cr.inputBase + i] = concreteInput(r, i);
  }
  auto addr = [&](int r, const Slice& s, uint64_t k) -> int64_t& {
    ConcreteRank& cr = ranks[static_cast<size_t>(r)];
    uint64_t base = s.buffer == Buffer::kInput    ? cr.inputBase
                    : s.buffer == Buffer::kOutput ? cr.outputBase
                                                  : cr.scratchBase;
    return cr.memory.at(base + s.offset + k);
  };
  std::map<std::tuple<int, int, int>, std::deque<std::vector<int64_t>>> fifos;
  std::vector<std::vector<size_t>> pc(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r)
    pc[static_cast<size_t>(r)].assign(plans[static_cast<size_t>(r)].channels.size(), 0);
  for (bool progress = true; progress;) {
    progress = false;
    for (int r = 0; r < n; ++r) {
      const Plan& p = plans[static_cast<size_t>(r)];
      for (size_t c = 0; c < p.channels.size(); ++c) {
        const Channel& ch = p.channels[c];
        size_t& i = pc[static_cast<size_t>(r)][c];
        if (i >= ch.steps.size()) continue;
        const Step& s = ch.steps[i];
        const uint64_t cnt = s.count();
        std::vector<int64_t> msg;
        if (stepReceives(s.kind)) {
          auto& q = fifos[{ch.connection, s.recvPeer, r}];
          if (q.empty()) continue;
          msg = std::move(q.front());
          q.pop_front();
          if (msg.size() != cnt) throw std::runtime_error("message size mismatch");
        }
        std::vector<int64_t> value(cnt);
        for (uint64_t k = 0; k < cnt; ++k) {
          int64_t v = 0;
          switch (s.kind) {
            case StepKind::kSend:
              v = addr(r, s.src, k);
              break;
            case StepKind::kRecv:
            case StepKind::kRecvCopySend:
              v = msg[k];
              break;
            case StepKind::kCopy:
              v = addr(r, s.src, k);
              break;
            case StepKind::kReduce:
              v = addr(r, s.src, k) + addr(r, s.src2, k);
              break;
            default:
              v = addr(r, s.src, k) + msg[k];
              break;
          }
          value[k] = s.finalize ? -v : v;
        }
        if (stepUsesDst(s.kind)) {
          for (uint64_t k = 0; k < cnt; ++k) addr(r, s.dst, k) = value[k];
        }
        if (stepSends(s.kind)) fifos[{ch.connection, r, s.sendPeer}].push_back(value);
        ++i;
        progress = true;
      }
    }
  }
  for (int r = 0; r < n; ++r) {
    for (size_t c = 0; c < plans[static_cast<size_t>(r)].channels.size(); ++c) {
      if (pc[static_cast<size_t>(r)][c] != plans[static_cast<size_t>(r)].channels[c].steps.size()) {
        throw std::runtime_error("concrete run stuck");
      }
    }
  }
  for (auto& [key, q] : fifos) {
    if (!q.empty()) throw std::runtime_error("leftover message");
  }
  return ranks;
}

inline int64_t concreteOutput(const ConcreteRank& cr, uint64_t i) {
  return cr.memory.at(cr.outputBase + i);
}

}  // namespace plexus::algo::testing
