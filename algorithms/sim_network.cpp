// The simulator's network (sim_network.hpp): routes from the topology graph and max-min fair
// rates by progressive filling.
#include "algorithms/sim_network.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.hpp"
#include "topology/paths.hpp"

namespace plexus::algo {

using topo::NodeId;
using topo::NodeType;

SimNetwork::SimNetwork(const topo::System& system, int nranks, const TopologyCosts& costs)
    : system_(system), nranks_(nranks), costs_(costs) {
  std::vector<NodeId> gpus = system.nodesOfType(NodeType::kGpu);
  std::stable_sort(gpus.begin(), gpus.end(), [&](NodeId a, NodeId b) {
    const topo::Node &x = system.node(a), &y = system.node(b);
    return std::make_pair(x.host, x.index) < std::make_pair(y.host, y.index);
  });
  if (!gpus.empty()) {
    if (static_cast<int>(gpus.size()) < nranks)
      throwError(ErrorCode::kInvalidArgument,
                 "simulator: system %s has %zu GPUs, fewer than the %d ranks asked for",
                 system.name().c_str(), gpus.size(), nranks);
    gpus.resize(static_cast<size_t>(nranks));
    gpus_ = std::move(gpus);
    finder_ = std::make_unique<topo::PathFinder>(system);
  }
}

SimNetwork::~SimNetwork() = default;

int SimNetwork::resourceFor(int64_t key, double bwGBps) {
  auto [it, inserted] = resourceIds_.try_emplace(key, static_cast<int>(capacity_.size()));
  if (inserted) capacity_.push_back(std::max(bwGBps, 1e-6));
  return it->second;
}

const SimRoute& SimNetwork::route(int a, int b) {
  const int64_t key = static_cast<int64_t>(a) * nranks_ + b;
  auto it = routes_.find(key);
  if (it != routes_.end()) return it->second;
  SimRoute r = a == b ? SimRoute{} : gpus_.empty() ? cpuRoute(a, b) : gpuRoute(a, b);
  return routes_.emplace(key, std::move(r)).first->second;
}

// One resource per hop and direction: (node before, node after) of the path's step.
SimRoute SimNetwork::gpuRoute(int a, int b) {
  const topo::Path p = finder_->find(gpus_[static_cast<size_t>(a)], gpus_[static_cast<size_t>(b)]);
  if (!p.connected())
    throwError(ErrorCode::kInvalidArgument,
               "simulator: no path between rank %d (%s) and rank %d (%s) in system %s", a,
               system_.node(gpus_[static_cast<size_t>(a)]).name.c_str(), b,
               system_.node(gpus_[static_cast<size_t>(b)]).name.c_str(), system_.name().c_str());
  SimRoute r;
  r.latencyUs = p.latencyUs;
  const int64_t nodes = static_cast<int64_t>(system_.nodeCount());
  // The finder may hand back the path walked from b to a: key the hops in a-to-b order.
  const bool reversed = !p.hops.empty() && p.hops.front().node != gpus_[static_cast<size_t>(a)];
  const size_t m = p.steps.size();
  for (size_t j = 0; j < m; ++j) {
    const size_t i = reversed ? m - 1 - j : j;
    const topo::NodeId x = p.hops[reversed ? i + 1 : i].node, y = p.hops[reversed ? i : i + 1].node;
    r.resources.push_back(resourceFor(static_cast<int64_t>(x) * nodes + y, p.steps[i].bw));
  }
  return r;
}

// CPU ranks: the sender's egress and the receiver's ingress (memory copies); across domains
// also the domains' network egress and ingress.
SimRoute SimNetwork::cpuRoute(int a, int b) {
  const int64_t n = nranks_;
  const int dsz = costs_.domainSize > 0 ? costs_.domainSize : nranks_;
  SimRoute r;
  r.resources.push_back(resourceFor(a, costs_.intra.bwGBps));
  if (a / dsz != b / dsz) {
    const double nic = costs_.inter.bwGBps * std::min(dsz, nranks_);
    r.resources.push_back(resourceFor(2 * n + a / dsz, nic));
    r.resources.push_back(resourceFor(3 * n + b / dsz, nic));
    r.latencyUs = costs_.inter.latencyUs;
  } else {
    r.latencyUs = costs_.intra.latencyUs;
  }
  r.resources.push_back(resourceFor(n + b, costs_.intra.bwGBps));
  return r;
}

// Progressive filling: raise every unfixed flow's rate together until a resource (or the flow
// cap) is saturated; fix the flows on it; repeat.
std::vector<double> SimNetwork::rates(const std::vector<const SimRoute*>& flows,
                                      double flowCapGBps) {
  const size_t nf = flows.size();
  std::vector<double> out(nf, -1);
  std::vector<double> left(capacity_);
  std::vector<int> active(capacity_.size(), 0);
  std::vector<int> touched;
  for (const SimRoute* f : flows) {
    for (int res : f->resources) {
      if (active[static_cast<size_t>(res)]++ == 0) touched.push_back(res);
    }
  }
  size_t fixed = 0;
  double level = 0;
  while (fixed < nf) {
    double next = flowCapGBps;
    for (int res : touched) {
      const size_t i = static_cast<size_t>(res);
      if (active[i] > 0) next = std::min(next, level + left[i] / active[i]);
    }
    const double grow = next - level;
    for (int res : touched) {
      const size_t i = static_cast<size_t>(res);
      left[i] -= grow * active[i];
    }
    level = next;
    for (size_t f = 0; f < nf; ++f) {
      if (out[f] >= 0) continue;
      bool saturated = level >= flowCapGBps;
      for (int res : flows[f]->resources)
        saturated = saturated ||
                    left[static_cast<size_t>(res)] <= 1e-9 * capacity_[static_cast<size_t>(res)];
      if (!saturated) continue;
      out[f] = level;
      ++fixed;
      for (int res : flows[f]->resources) --active[static_cast<size_t>(res)];
    }
  }
  return out;
}

}  // namespace plexus::algo
