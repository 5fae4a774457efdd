// The flow-level simulator (algorithms/simulator.hpp): analytic ring times on a uniform switch,
// link sharing, the 576-rank 16 GB point, and its agreement with the tuner.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "algorithms/sim_network.hpp"
#include "algorithms/sim_protocol.hpp"
#include "algorithms/simulator.hpp"
#include "algorithms/topology_costs.hpp"
#include "algorithms/tuner.hpp"
#include "topology/synthetic.hpp"

namespace plexus::algo {
namespace {

constexpr double kLinkGBps = 100;
constexpr double kLinkUs = 0.5;

// n GPUs, each with one NVLink of kLinkGBps to one NVSwitch: a uniform, non-blocking switch.
topo::System starSystem(int n) {
  topo::System s("star");
  s.addHost("h0");
  topo::Node sw;
  sw.type = topo::NodeType::kNvSwitch;
  sw.name = "NVS0";
  sw.host = 0;
  sw.tier = 1;
  sw.group = 0;
  const topo::NodeId swId = s.addNode(sw);
  for (int g = 0; g < n; ++g) {
    topo::Node gpu;
    gpu.type = topo::NodeType::kGpu;
    gpu.name = "GPU" + std::to_string(g);
    gpu.host = 0;
    gpu.index = g;
    gpu.sm = 80;
    const topo::NodeId id = s.addNode(gpu);
    topo::Link l;
    l.a = id;
    l.b = swId;
    l.type = topo::LinkType::kNvLink;
    l.count = 1;
    l.gen = 3;
    l.bw = kLinkGBps;
    l.latencyUs = kLinkUs;
    s.addLink(l);
  }
  return s;
}

// One channel of the ring: 2(n-1) messages of S/n in sequence around the ring, each at the flow's
// rate plus the route's latency; 2(n-1)+1 steps (the last receives only), each paying the
// protocol's per-step overhead; n-1 of them also reduce. The call is run with every protocol
// and the fastest is kept: Simple (messageUs per step, the full rate, a set-up per call) or LL
// (kLlStepUs per step, kLlBwFraction of the rate).
TEST(Simulator, RingOnAUniformSwitchMatchesTheFormula) {
  for (int n : {2, 4, 8}) {
    const topo::System sys = starSystem(n);
    const TopologyCosts k = costsFromSystem(sys, n);
    SimCall call;
    call.nranks = n;
    call.count = 1 << 18;  // 1 MiB of floats: one piece per step with a 4 MiB FIFO
    call.algorithm = "ring";
    call.nchannels = 1;
    const SimResult r = simulate(sys, call);
    const double S = static_cast<double>(call.count) * 4;
    const double rate = std::min(kLinkGBps, k.channelGBps) * 1e3;  // bytes per us
    auto expect = [&](double stepUs, double share, double setupUs) {
      const double perMessage = stepUs + 2 * kLinkUs + (S / n) / (rate * share);
      return k.callUs + k.channelUs + setupUs + 2 * (n - 1) * perMessage + stepUs +
             (n - 1) * (S / n) / (k.reduceGBps * 1e3);
    };
    const double simple = expect(k.messageUs, 1.0, kSimpleSetupUs);
    const double ll = expect(kLlStepUs, kLlBwFraction, 0);
    EXPECT_EQ(r.protocol, simple < ll ? "Simple" : "LL") << n << " ranks";
    EXPECT_NEAR(r.timeUs, std::min(simple, ll), 0.01 * std::min(simple, ll)) << n << " ranks";
    EXPECT_EQ(r.messages, static_cast<uint64_t>(n * 2 * (n - 1)));
    // The bandwidth term is nccl-tests' 2(n-1)/n S / B.
    EXPECT_NEAR(2 * (n - 1) * (S / n) / rate, 2.0 * (n - 1) / n * S / rate, 1e-9);
  }
}

TEST(Simulator, TwoFlowsIntoOneLinkHalveItsBandwidth) {
  const topo::System sys = starSystem(3);
  SimNetwork net(sys, 3, costsFromSystem(sys, 3));
  const std::vector<double> one = net.rates({&net.route(0, 1)}, 1e9);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_DOUBLE_EQ(one[0], kLinkGBps);
  // 0->2 and 1->2 share the switch's port to GPU2.
  const std::vector<double> two = net.rates({&net.route(0, 2), &net.route(1, 2)}, 1e9);
  EXPECT_DOUBLE_EQ(two[0], kLinkGBps / 2);
  EXPECT_DOUBLE_EQ(two[1], kLinkGBps / 2);
  // Max-min: 0->1 alone on its ports keeps the full link next to the two shared ones.
  const std::vector<double> three =
      net.rates({&net.route(0, 2), &net.route(1, 2), &net.route(2, 0)}, 1e9);
  EXPECT_DOUBLE_EQ(three[2], kLinkGBps);
  // The per-channel cap binds first when it is lower.
  EXPECT_DOUBLE_EQ(net.rates({&net.route(0, 1)}, 7)[0], 7);
}

TEST(Simulator, ChannelsOnOneLinkShareIt) {
  // Two ranks, one link each way. Below the link's rate the channels' own cap binds (twice the
  // channels, half the time); above it they share the link (twice the channels, same time).
  const topo::System sys = starSystem(2);
  const TopologyCosts k = costsFromSystem(sys, 2);
  const int below = static_cast<int>(kLinkGBps / k.channelGBps) / 2;
  ASSERT_GE(below, 1) << "channel cap " << k.channelGBps;
  SimCall call;
  call.nranks = 2;
  call.count = 1 << 26;  // 256 MiB: bandwidth dominates
  call.algorithm = "ring";
  call.fifoBytes = 1u << 30;
  auto timeWith = [&](int nch) {
    call.nchannels = nch;
    return simulate(sys, call).timeUs;
  };
  const double tBelow = timeWith(below), tFull = timeWith(2 * below), tOver = timeWith(4 * below);
  EXPECT_NEAR(tBelow / tFull, 2.0, 0.1) << tBelow << " vs " << tFull;
  EXPECT_NEAR(tOver / tFull, 1.0, 0.05) << tOver << " vs " << tFull;
}

// Issue 14: the 576-rank 16 GB point runs in seconds; assert the work it did, not the time.
TEST(Simulator, Nvl576SixteenGigabytes) {
  const topo::System sys = topo::makeSyntheticSystem("nvl576");
  SimCall call;
  call.count = (uint64_t{16} << 30) / 4;
  const SimResult r = simulate(sys, call);
  EXPECT_GT(r.timeUs, 0);
  const double busbw = 2.0 * 575 / 576 * 16 * (1 << 30) / (r.timeUs * 1e3);
  EXPECT_GT(busbw, 100) << r.algorithm;
  EXPECT_LT(busbw, 2000) << r.algorithm;
  EXPECT_LT(r.steps, 30'000'000u);
  EXPECT_GT(r.messages, 576u);
  call.algorithm = "ring";
  const SimResult ring = simulate(sys, call);
  const uint64_t perPiece = uint64_t{576} * 2 * 575 * static_cast<uint64_t>(ring.nchannels);
  EXPECT_EQ(ring.messages % perPiece, 0u) << ring.messages << " at " << ring.nchannels;
  EXPECT_GE(ring.messages, perPiece);
}

}  // namespace
}  // namespace plexus::algo
