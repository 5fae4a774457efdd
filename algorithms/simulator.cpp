// The flow-level simulator (simulator.hpp): compacts every rank's plan, solves the rates of each
// step index's concurrent flows, then runs the steps as a dataflow over message arrivals.
#include "algorithms/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

#include "algorithms/registry.hpp"
#include "algorithms/ring_orders.hpp"
#include "algorithms/sim_network.hpp"
#include "algorithms/sim_protocol.hpp"
#include "algorithms/topology_costs.hpp"
#include "algorithms/tuner.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace {

enum : uint8_t { kRecvBit = 1, kSendBit = 2, kWorkBit = 4 };

struct CStep {
  int32_t recvPeer = -1;
  int32_t sendPeer = -1;
  double bytes = 0;  // message (or local work) bytes
  float rate = 0;    // GB/s of its message's flow
  uint8_t flags = 0;
};

struct CChannel {
  int rank = 0;
  int connection = 0;
  std::vector<CStep> steps;
};

struct Setup {
  int n = 0;
  TopologyCosts costs;
  TuneRequest q;
  Candidate pick;
};

}  // namespace

int simulatedRanks(const topo::System& s, int asked) {
  if (asked > 0) return asked;
  const size_t gpus = s.countNodes(topo::NodeType::kGpu);
  return gpus > 0 ? static_cast<int>(gpus) : std::max(1, s.hostCount());
}

namespace {

// Ring orders as the communicator builds them (ringOrdersFromCluster, an injected system):
// railMatchedRings over the domains, every crossing on one rail; rank order on one domain.
std::vector<std::vector<int>> domainRings(const std::vector<std::vector<int>>& groups) {
  if (groups.size() < 2) return {};
  return railMatchedRings(groups, kMaxChannels);
}

Setup prepare(const topo::System& system, const SimCall& call) {
  Setup s;
  s.n = simulatedRanks(system, call.nranks);
  s.costs = costsFromSystem(system, s.n);
  if (system.countNodes(topo::NodeType::kGpu) == 0) {
    if (!call.transport.empty() && call.transport != "shm" && call.transport != "tcp")
      throwError(ErrorCode::kInvalidArgument, "simulate: transport '%s' (shm or tcp)",
                 call.transport.c_str());
    int threads = 0;
    for (topo::NodeId id : system.nodesOfType(topo::NodeType::kCpu))
      threads += system.node(id).threads;
    const double buffer = static_cast<double>(call.count * call.elemSize);
    const int hosts = std::max(1, system.hostCount());
    if (hosts == 1) {
      s.costs = cpuCosts(call.transport == "tcp" ? CpuTransport::kTcp : CpuTransport::kShm, s.n,
                         threads, buffer);
    } else {
      const int perHost = s.costs.domainSize > 0 ? s.costs.domainSize : s.n;
      s.costs = cpuHostsCosts(s.costs, s.n, perHost, threads / hosts, call.sharedThreads, buffer);
    }
  }
  if (call.linkGBps > 0) {
    s.costs.intra.bwGBps = call.linkGBps;
    s.costs.channelGBps = call.linkGBps;
  }
  if (call.messageUs > 0) s.costs.messageUs = call.messageUs;
  if (call.callUs > 0) s.costs.callUs = call.callUs;
  s.q.collective = call.collective;
  s.q.nranks = s.n;
  s.q.count = call.count;
  s.q.elemSize = call.elemSize;
  s.q.fifoElems = call.fifoBytes / std::max<size_t>(1, call.elemSize);
  s.q.groups = groupsFromSystem(system, s.n);
  s.q.rings = domainRings(s.q.groups);
  const TuneResult r = evaluate(s.q, s.costs);
  s.pick = r.best;
  if (call.algorithm.empty()) return s;
  for (const Candidate& c : r.candidates) {
    if (c.algorithm != call.algorithm) continue;
    if (!c.runnable)
      throwError(ErrorCode::kInvalidArgument, "simulate: %s cannot run %s on %d ranks: %s",
                 c.algorithm.c_str(), collectiveName(call.collective), s.n, c.note.c_str());
    s.pick = c;
    return s;
  }
  throwError(ErrorCode::kInvalidArgument, "simulate: no algorithm '%s' for %s",
             call.algorithm.c_str(), collectiveName(call.collective));
}

void compactInto(const Plan& p, size_t elemSize, std::vector<CChannel>& out) {
  for (const Channel& ch : p.channels) {
    CChannel c;
    c.rank = p.rank;
    c.connection = ch.connection;
    c.steps.reserve(ch.steps.size());
    for (const Step& st : ch.steps) {
      CStep x;
      x.bytes = static_cast<double>(st.count()) * static_cast<double>(elemSize);
      if (stepReceives(st.kind)) {
        x.flags |= kRecvBit;
        x.recvPeer = st.recvPeer;
      }
      if (stepSends(st.kind)) {
        x.flags |= kSendBit;
        x.sendPeer = st.sendPeer;
      }
      if (stepReduces(st.kind) || st.kind == StepKind::kCopy) x.flags |= kWorkBit;
      c.steps.push_back(x);
    }
    out.push_back(std::move(c));
  }
}

// Per step index: the senders' flows, their rates solved once per distinct set.
uint64_t solveRates(std::vector<CChannel>& chans, SimNetwork& net, double capGBps,
                    double efficiency) {
  size_t longest = 0;
  for (const CChannel& c : chans) longest = std::max(longest, c.steps.size());
  std::unordered_map<uint64_t, std::vector<double>> cache;
  std::vector<CStep*> senders;
  std::vector<const SimRoute*> routes;
  for (size_t j = 0; j < longest; ++j) {
    senders.clear();
    routes.clear();
    uint64_t h = 1469598103934665603ull;
    for (CChannel& c : chans) {
      if (j >= c.steps.size() || !(c.steps[j].flags & kSendBit)) continue;
      CStep& st = c.steps[j];
      senders.push_back(&st);
      routes.push_back(&net.route(c.rank, st.sendPeer));
      h = (h ^ (static_cast<uint64_t>(c.rank) << 32 | static_cast<uint32_t>(st.sendPeer))) *
          1099511628211ull;
    }
    if (senders.empty()) continue;
    h ^= senders.size() * 0x9e3779b97f4a7c15ull;
    auto it = cache.find(h);
    if (it == cache.end()) it = cache.emplace(h, net.rates(routes, capGBps)).first;
    for (size_t i = 0; i < senders.size(); ++i)
      senders[i]->rate = static_cast<float>(it->second[i] * efficiency);
  }
  return cache.size();
}

// nvls on a reduction-capable switch as the multimem operations it stands for: per channel
// and piece, one store of the piece into the switch (which reduces) and one load of the result
// back. Each is a flow from the rank across its port into the switch fabric; the load of piece
// i is issued after the store of piece i+1 so that consecutive pieces overlap. The partner
// rank (r + n/2) only picks a route that crosses the fabric's upper tier where there is one.
std::vector<CChannel> switchChannels(int n, int nch, double bytes, double pieceBytes) {
  std::vector<CChannel> out;
  const double perChannel = bytes / nch;
  const int pieces = std::max(1, static_cast<int>(std::ceil(perChannel / pieceBytes)));
  const double piece = perChannel / pieces;
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < nch; ++c) {
      CChannel ch;
      ch.rank = r;
      ch.connection = c;
      CStep up;
      up.flags = kSendBit;
      up.sendPeer = (r + n / 2) % n;
      up.bytes = piece;
      CStep down;
      down.flags = kRecvBit;
      down.recvPeer = ((r - n / 2) % n + n) % n;
      for (int i = 0; i < pieces; ++i) {
        ch.steps.push_back(up);
        if (i > 0) ch.steps.push_back(down);
      }
      ch.steps.push_back(down);
      out.push_back(std::move(ch));
    }
  }
  return out;
}

struct Runner {
  // `cpuShare`: the channels of a rank that take turns on its slice of a core (oversubscribed
  // ranks, TopologyCosts::ranksPerThread > 1; else 1): each channel's CPU work (its steps'
  // overhead and reductions) runs at that fraction of the speed, as the cost model charges it.
  Runner(std::vector<CChannel>& c, SimNetwork& w, const TopologyCosts& costs, int ranks,
         const SimProtocol& p, double cpuShare)
      : chans(c),
        net(w),
        k(costs),
        n(ranks),
        stepUs(p.stepUs * cpuShare),
        rateScale(p.bwFraction),
        reduceUsPerByte(cpuShare / (k.reduceGBps * 1e3)) {}
  std::vector<CChannel>& chans;
  SimNetwork& net;
  const TopologyCosts& k;
  int n = 0;
  double stepUs = 0;     // the protocol's overhead per step
  double rateScale = 1;  // the protocol's share of a flow's rate
  double reduceUsPerByte = 0;
  std::vector<size_t> cursor;
  std::vector<double> clock;
  std::unordered_map<uint64_t, std::vector<double>> arrivals;  // FIFO of arrival times
  std::unordered_map<uint64_t, size_t> heads;
  std::unordered_map<uint64_t, std::vector<size_t>> waiters;
  std::vector<size_t> ready;
  uint64_t messages = 0, steps = 0;

  uint64_t key(int src, int dst, int conn) const {
    return (static_cast<uint64_t>(src) * static_cast<uint64_t>(n) + static_cast<uint64_t>(dst)) *
               (kMaxChannels + 1) +
           static_cast<uint64_t>(conn);
  }

  // Runs channel i until it waits for a message or ends.
  void advance(size_t i) {
    CChannel& c = chans[i];
    while (cursor[i] < c.steps.size()) {
      const CStep& st = c.steps[cursor[i]];
      double start = clock[i];
      if (st.flags & kRecvBit) {
        const uint64_t kk = key(st.recvPeer, c.rank, c.connection);
        std::vector<double>& q = arrivals[kk];
        size_t& head = heads[kk];
        if (head >= q.size()) {
          waiters[kk].push_back(i);
          return;
        }
        start = std::max(start, q[head++]);
      }
      double t = start + stepUs;
      if (st.flags & kWorkBit) t += st.bytes * reduceUsPerByte;
      if (st.flags & kSendBit) {
        t += st.bytes / (std::max(1e-9, static_cast<double>(st.rate) * rateScale) * 1e3);
        const SimRoute& r = net.route(c.rank, st.sendPeer);
        const uint64_t kk = key(c.rank, st.sendPeer, c.connection);
        arrivals[kk].push_back(t + r.latencyUs);
        ++messages;
        auto w = waiters.find(kk);
        if (w != waiters.end()) {
          for (size_t x : w->second) ready.push_back(x);
          waiters.erase(w);
        }
      }
      clock[i] = t;
      ++cursor[i];
      ++steps;
    }
  }

  double run() {
    cursor.assign(chans.size(), 0);
    clock.assign(chans.size(), 0);
    for (size_t i = 0; i < chans.size(); ++i) ready.push_back(i);
    while (!ready.empty()) {
      const size_t i = ready.back();
      ready.pop_back();
      advance(i);
    }
    double end = 0;
    for (size_t i = 0; i < chans.size(); ++i) {
      if (cursor[i] < chans[i].steps.size())
        throwError(ErrorCode::kInternal,
                   "simulate: rank %d channel %zu waits forever at step %zu (its message from "
                   "rank %d never comes): the plan is inconsistent",
                   chans[i].rank, i, cursor[i], chans[i].steps[cursor[i]].recvPeer);
      end = std::max(end, clock[i]);
    }
    return end;
  }
};

}  // namespace

SimResult simulate(const topo::System& system, const SimCall& call) {
  Setup s = prepare(system, call);
  if (call.nchannels > 0) {
    s.pick.nchannels = std::min(call.nchannels, kMaxChannels);
    s.pick.chunkElems = 0;
  }
  BuildRequest br = buildRequestFor(s.q, s.pick, 0);
  SimResult res;
  const bool inSwitch = s.pick.algorithm == "nvls" && s.costs.switchReduction &&
                        (s.costs.domainSize <= 0 || s.costs.domainSize >= s.n) && s.n > 1;
  // Enlarge the FIFO (fewer pieces) while the steps of all ranks exceed the budget.
  while (!inSwitch) {
    const double total = static_cast<double>(buildPlan(s.pick.algorithm, br).stepCount()) * s.n;
    if (total <= static_cast<double>(call.stepBudget) || br.fifoElems == 0 ||
        br.fifoElems >= br.count)
      break;
    br.fifoElems *= 2;
    br.chunkElems *= 2;
    res.scale *= 2;
  }
  std::vector<CChannel> chans;
  if (inSwitch) {
    const double piece = static_cast<double>(br.chunkElems > 0 ? br.chunkElems : br.fifoElems) *
                         static_cast<double>(call.elemSize);
    // Per port: the rank's whole buffer read into the switch's reductions plus its reduced 1/n
    // share, then that share written and the whole result received: (n+1)/n each way.
    chans = switchChannels(s.n, std::max(1, s.pick.nchannels),
                           static_cast<double>(call.count * call.elemSize) * (s.n + 1) / s.n,
                           piece > 0 ? piece : static_cast<double>(call.count * call.elemSize));
  } else {
    for (int r = 0; r < s.n; ++r) {
      br.rank = r;
      compactInto(buildPlan(s.pick.algorithm, br), call.elemSize, chans);
    }
  }
  SimNetwork net(system, s.n, s.costs);
  res.flowSets = solveRates(chans, net, std::max(1e-3, s.costs.channelGBps),
                            inSwitch ? s.costs.switchEfficiency : 1.0);
  const int nch = static_cast<int>(chans.size()) / std::max(1, s.n);
  const double bufferBytes = static_cast<double>(call.count * call.elemSize);
  res.timeUs = INFINITY;
  // Every protocol the call may use, the fastest kept (as NCCL's tuner picks its protocol).
  for (const SimProtocol& p : simProtocols(s.costs, system.countNodes(topo::NodeType::kGpu) > 0)) {
    if (p.maxBytes > 0 && bufferBytes > p.maxBytes && !std::isinf(res.timeUs)) continue;
    Runner run(chans, net, s.costs, s.n, p, s.costs.ranksPerThread > 1 ? nch : 1);
    const double t = run.run() + s.costs.callUs + nch * s.costs.channelUs + p.setupUs;
    if (t >= res.timeUs) continue;
    res.timeUs = t;
    res.protocol = p.name;
    res.steps = run.steps;
    res.messages = run.messages;
  }
  res.algorithm = s.pick.algorithm;
  res.nchannels = s.pick.nchannels;
  res.chunkElems = s.pick.chunkElems;
  res.tunerUs = s.pick.timeUs;
  return res;
}

}  // namespace plexus::algo
