// A tiny concrete executor for tests: runs the plans of all ranks on int64 data (sum as the
// reduction, negation as the "finalize" post-processing so that a missing or doubled finalize
// shows) with unbounded FIFOs, round-robin. It is independent of the symbolic verifier and
// checks the builders against plain arithmetic for small rank counts. concreteRunT runs any value
// type with given input, reduction and finalize functions (floating-point determinism tests).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "plan/plan.hpp"

namespace plexus::algo::testing {

template <typename T>
struct ConcreteRankT {
  std::vector<T> memory;  // input, output and scratch, aliased as the placement says
  uint64_t inputBase = 0, outputBase = 0, scratchBase = 0;
};
using ConcreteRank = ConcreteRankT<int64_t>;

// Input element i of rank r.
inline int64_t concreteInput(int r, uint64_t i) {
  return static_cast<int64_t>(r + 1) * 1000003 + static_cast<int64_t>(i) * 7 + 11;
}

// In-place bases follow plan.hpp; out-of-place puts input, output, scratch one after another.
template <typename T>
std::vector<ConcreteRankT<T>> concreteRunT(const std::vector<Plan>& plans, bool inPlace,
                                           const std::function<T(int, uint64_t)>& input,
                                           const std::function<T(T, T)>& op,
                                           const std::function<T(T)>& finalize) {
  const int n = static_cast<int>(plans.size());
  std::vector<ConcreteRankT<T>> ranks(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    const Plan& p = plans[static_cast<size_t>(r)];
    ConcreteRankT<T>& cr = ranks[static_cast<size_t>(r)];
    uint64_t size = 0;
    if (!inPlace) {
      cr.inputBase = 0;
      cr.outputBase = p.inputCount;
      size = p.inputCount + p.outputCount;
    } else {
      switch (p.collective) {
        case Collective::kAllGather:
        case Collective::kGather:
          if (p.outputCount > 0) {
            cr.inputBase = static_cast<uint64_t>(r) * p.count;
            size = p.outputCount;
          } else {
            size = p.inputCount;
          }
          break;
        case Collective::kReduceScatter:
        case Collective::kScatter:
          if (p.inputCount > 0) {
            cr.outputBase = static_cast<uint64_t>(r) * p.count;
            size = p.inputCount;
          } else {
            size = p.outputCount;
          }
          break;
        default:
          size = std::max(p.inputCount, p.outputCount);
          break;
      }
    }
    cr.scratchBase = size;
    size += p.scratchCount;
    cr.memory.assign(size, T(-777));
    for (uint64_t i = 0; i < p.inputCount; ++i) cr.memory[cr.inputBase + i] = input(r, i);
  }
  auto addr = [&](int r, const Slice& s, uint64_t k) -> T& {
    ConcreteRankT<T>& cr = ranks[static_cast<size_t>(r)];
    uint64_t base = s.buffer == Buffer::kInput    ? cr.inputBase
                    : s.buffer == Buffer::kOutput ? cr.outputBase
                                                  : cr.scratchBase;
    return cr.memory.at(base + s.offset + k);
  };
  std::map<std::tuple<int, int, int>, std::deque<std::vector<T>>> fifos;
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
        std::vector<T> msg;
        if (stepReceives(s.kind)) {
          auto& q = fifos[{ch.connection, s.recvPeer, r}];
          if (q.empty()) continue;
          msg = std::move(q.front());
          q.pop_front();
          if (msg.size() != cnt) throw std::runtime_error("message size mismatch");
        }
        std::vector<T> value(cnt);
        for (uint64_t k = 0; k < cnt; ++k) {
          T v{};
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
              v = op(addr(r, s.src, k), addr(r, s.src2, k));
              break;
            default:
              v = op(addr(r, s.src, k), msg[k]);
              break;
          }
          value[k] = s.finalize ? finalize(v) : v;
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

inline std::vector<ConcreteRank> concreteRun(const std::vector<Plan>& plans, bool inPlace) {
  return concreteRunT<int64_t>(
      plans, inPlace, concreteInput, [](int64_t a, int64_t b) { return a + b; },
      [](int64_t v) { return -v; });
}

template <typename T>
T concreteOutput(const ConcreteRankT<T>& cr, uint64_t i) {
  return cr.memory.at(cr.outputBase + i);
}

}  // namespace plexus::algo::testing
