// Multicast groups where no multicast is possible (this builder's machines: no GPU, or no
// NVSwitch): the support check says why, names the device and never throws, and a two-rank
// set-up is refused on both ranks with the root's reason (ranks as threads of this process, the
// fd channels real; both ranks ask for GPU 0, so a machine with multicast refuses them too, as
// ranks that share a GPU).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/error.hpp"
#include "transports/cuda_ipc/fd_channel.hpp"
#include "transports/cuda_ipc/multicast_group.hpp"

namespace plexus::transport::cuda_ipc {
namespace {

using namespace std::chrono_literals;

TEST(Multicast, SupportSaysWhyNot) {
  const MulticastSupport s = multicastSupport(0);
  if (s.supported) GTEST_SKIP() << "GPU 0 supports multicast here; nothing to refuse";
  EXPECT_NE(s.why.find("multicast"), std::string::npos) << s.why;
  const MulticastSupport bad = multicastSupport(-1);
  EXPECT_FALSE(bad.supported);
  EXPECT_FALSE(bad.why.empty());
}

// What create() threw on one rank: code and message.
struct Outcome {
  bool threw = false;
  ErrorCode code = ErrorCode::kSuccess;
  std::string what;
};

TEST(Multicast, RefusedOnEveryRank) {
  const uint64_t id = (static_cast<uint64_t>(::getpid()) << 32) ^ 0x4d43;
  std::vector<Outcome> out(2);
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      try {
        FdListener listener = FdListener::listen(id, r);
        const std::vector<int> all{0, 1};
        auto mesh = connectFdMesh(listener, r, all, Deadline::after(20s));
        MulticastGroup g = MulticastGroup::create(mesh, r, 0, 1 << 20, Deadline::after(20s));
      } catch (const Error& e) {
        out[static_cast<size_t>(r)] = {true, e.code(), e.what()};
      }
    });
  }
  for (std::thread& t : ranks) t.join();
  for (int r = 0; r < 2; ++r) {
    const Outcome& o = out[static_cast<size_t>(r)];
    ASSERT_TRUE(o.threw) << "rank " << r << " got a multicast group";
    EXPECT_EQ(o.code, ErrorCode::kInvalidUsage) << o.what;
    EXPECT_NE(o.what.find("rank " + std::to_string(r)), std::string::npos) << o.what;
  }
#if PLEXUS_HAVE_CUDA
  // The peer learns the root's reason (a rank without multicast, or the shared GPU).
  EXPECT_NE(out[1].what.find("multicast"), std::string::npos) << out[1].what;
  EXPECT_TRUE(out[1].what.find("rank 0") != std::string::npos ||
              out[1].what.find("ranks 0 and 1") != std::string::npos)
      << out[1].what;
#endif
}

}  // namespace
}  // namespace plexus::transport::cuda_ipc
