// The perf driver on device buffers (built with CUDA; each test skips with one line where no CUDA
// device is usable, as on the CI machines): the CUDA wrappers themselves, then the tools' sweep on
// cudaMalloc'd buffers with several ranks of this process sharing the devices there are.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "common/collectives.hpp"
#include "common/datatypes.hpp"
#include "common/device.hpp"
#include "common/options.hpp"
#include "tests/perf/captured_run.hpp"

namespace plexus::perf {
namespace {

#define SKIP_WITHOUT_DEVICE()                                              \
  do {                                                                     \
    cuda::Availability a = cuda::probe();                                  \
    if (a.count == 0) GTEST_SKIP() << "no CUDA device here: " << a.reason; \
  } while (0)

// The "#wrong" columns (out of place, in place) of every table row.
std::vector<std::pair<std::string, std::string>> wrongColumns(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    EXPECT_EQ(w.size(), 13u) << "not a table row: '" << line << "'";
    if (w.size() == 13) out.emplace_back(w[8], w[12]);
  }
  return out;
}

Options small() {
  Options o;
  o.minBytes = 8;
  o.maxBytes = 1 << 20;
  o.stepFactor = 8;
  o.iters = 3;
  o.warmupIters = 1;
  o.buffers = BufferKind::kDevice;
  return o;
}

TEST(PerfDevice, CopiesAndEventsRoundTrip) {
  SKIP_WITHOUT_DEVICE();
  const size_t n = (1 << 20) + 3;
  cuda::Memory mem(n, 0);
  cuda::Stream stream(0, false);
  cuda::Event start(0), stop(0);
  std::vector<unsigned char> in(n), out(n, 0);
  for (size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned char>(i * 131 + 7);
  start.record(stream.get());
  cuda::copyToDevice(mem.data(), in.data(), n, stream.get());
  cuda::copyToHost(out.data(), mem.data(), n, stream.get());
  stop.record(stream.get());
  EXPECT_GE(stop.millisecondsSince(start), 0.0);
  EXPECT_EQ(std::memcmp(in.data(), out.data(), n), 0);
  EXPECT_NE(cuda::describe(0).find("] "), std::string::npos) << cuda::describe(0);
}

TEST(PerfDevice, AllReduceEveryOpOnDeviceBuffersTwoRanks) {
  SKIP_WITHOUT_DEVICE();
  Options o = small();
  o.nGpus = 2;  // two ranks of this process, on devices 0 and 1 % count (one GPU: both on 0)
  o.types = {ncclInt32, ncclFloat32, ncclBfloat16, ncclFloat8e5m2};
  o.ops = allOps();
  RunResult r = runCaptured(kAllReduce, o, ProcessPlacement{});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("# Buffers: device memory (cudaMalloc)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("[host] CPU memory"), std::string::npos) << r.out;
  auto rows = wrongColumns(r.out);
  EXPECT_EQ(rows.size(), 4u * 5u * sizeSequence(o).size());
  for (const auto& [outOfPlace, inPlace] : rows) {
    EXPECT_EQ(outOfPlace, "0");
    EXPECT_EQ(inPlace, "0");
  }
}

TEST(PerfDevice, EveryCollectiveOnDeviceBuffersThreeRanks) {
  SKIP_WITHOUT_DEVICE();
  for (const Collective* c : {&kAllGather, &kReduceScatter, &kBroadcast, &kReduce, &kSendRecv,
                              &kAlltoAll, &kGather, &kScatter}) {
    SCOPED_TRACE(c->name);
    Options o = small();
    o.nGpus = 3;
    o.minBytes = 5;
    o.stepFactor = 7;
    o.types = {ncclInt8, ncclFloat16};
    o.root = c->hasRoot ? -1 : 0;
    RunResult r = runCaptured(*c, o, ProcessPlacement{});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    for (const auto& [outOfPlace, inPlace] : wrongColumns(r.out)) {
      EXPECT_EQ(outOfPlace, "0");
      EXPECT_EQ(inPlace, c == &kSendRecv ? "N/A" : "0");
    }
  }
}

// -G: the timed iterations and the checked call are captured in CUDA graphs and replayed. Either
// that gives exact results, or the path refuses capture and the tool says so and fails (exit 1).
TEST(PerfDevice, GraphLaunchGivesExactResultsOrAClearRefusal) {
  SKIP_WITHOUT_DEVICE();
  Options o = small();
  o.nGpus = 2;
  o.cudaGraph = 3;
  o.types = {ncclInt32};
  RunResult r = runCaptured(kAllReduce, o, ProcessPlacement{});
  if (r.code == 0) {
    EXPECT_NE(r.out.find("graph: 3"), std::string::npos);
    for (const auto& [outOfPlace, inPlace] : wrongColumns(r.out)) {
      EXPECT_EQ(outOfPlace, "0");
      EXPECT_EQ(inPlace, "0");
    }
  } else {
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("-G 3: capturing the timed iterations into a CUDA graph failed"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("does not support CUDA graph capture"), std::string::npos) << r.err;
  }
}

TEST(PerfDevice, HostFlagKeepsHostBuffers) {
  SKIP_WITHOUT_DEVICE();
  Options o = small();
  o.buffers = BufferKind::kHost;
  o.nGpus = 2;
  RunResult r = runCaptured(kAllReduce, o, ProcessPlacement{});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("# Buffers: host memory (--host)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[host] CPU memory"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace plexus::perf
