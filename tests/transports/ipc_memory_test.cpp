// cuda-ipc memory parts that need no GPU: the descriptor's fixed layout, the exchange's checks on
// what a peer sends, and the clear errors without CUDA or without a device.
#include "transports/cuda_ipc/ipc_memory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <type_traits>

#include "base/error.hpp"
#include "transports/cuda_ipc/peer_route.hpp"
#if PLEXUS_HAVE_CUDA
#include "transports/cuda_ipc/driver_api.hpp"
#endif

namespace plexus::transport::cuda_ipc {
namespace {

using namespace std::chrono_literals;

static_assert(std::is_trivially_copyable_v<IpcDescriptor>);
static_assert(sizeof(IpcDescriptor) == 200, "the descriptor is a wire format: bump its version");

struct Pair {
  FdListener listener;
  FdChannel a, b;
};

Pair connectedPair() {
  const uint64_t id = (static_cast<uint64_t>(::getpid()) << 32) ^ 0x1234;
  Pair p;
  p.listener = FdListener::listen(id, 0);
  p.a = connectFdChannel(id, 1, 0, Deadline::after(5s));
  p.b = p.listener.accept(Deadline::after(5s));
  return p;
}

// Several ranks per GPU and per process: every combination of (same process?, same GPU?, P2P?).
TEST(IpcMemory, PeerRoutes) {
  LocalGpuRank a{0, 100, {1}}, sameGpuOtherProcess{1, 101, {1}}, otherGpu{2, 102, {2}},
      sameProcessOtherGpu{3, 100, {2}}, sameProcessSameGpu{4, 100, {1}};
  EXPECT_EQ(choosePeerRoute(a, sameProcessSameGpu, false), PeerRoute::kSameProcess);
  EXPECT_EQ(choosePeerRoute(a, sameGpuOtherProcess, false), PeerRoute::kSameGpu);
  EXPECT_EQ(choosePeerRoute(a, otherGpu, true), PeerRoute::kPeerToPeer);
  EXPECT_EQ(choosePeerRoute(a, otherGpu, false), PeerRoute::kStaged);
  EXPECT_EQ(choosePeerRoute(a, sameProcessOtherGpu, true), PeerRoute::kSameProcess);
  EXPECT_EQ(choosePeerRoute(a, sameProcessOtherGpu, false), PeerRoute::kStaged);
  EXPECT_STREQ(peerRouteName(PeerRoute::kSameGpu), "same-gpu");
  EXPECT_STREQ(peerRouteName(PeerRoute::kStaged), "staged");
}

TEST(IpcMemory, KindNames) {
  EXPECT_STREQ(ipcHandleKindName(IpcHandleKind::kPosixFd), "posix-fd");
  EXPECT_STREQ(ipcHandleKindName(IpcHandleKind::kFabric), "fabric");
  EXPECT_STREQ(ipcHandleKindName(IpcHandleKind::kLegacy), "legacy");
  EXPECT_STREQ(ipcHandleKindName(IpcHandleKind::kNone), "none");
}

TEST(IpcMemory, ShortDescriptorIsRefusedNamingThePeer) {
  Pair p = connectedPair();
  const uint8_t junk[10] = {};
  p.a.send(kIpcDescriptorTag, junk, {}, Deadline::after(1s));
  try {
    PeerDeviceMemory::receiveFrom(p.b, 0, Deadline::after(1s));
    FAIL() << "a 10-byte descriptor was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote);
    EXPECT_NE(std::string(e.what()).find("peer rank 1 (pid " + std::to_string(::getpid())),
              std::string::npos)
        << e.what();
  }
}

TEST(IpcMemory, ForeignDescriptorIsRefusedBeforeAnyDeviceWork) {
  Pair p = connectedPair();
  IpcDescriptor d;
  d.magic = 0xdeadbeef;
  p.a.send(kIpcDescriptorTag, {reinterpret_cast<const uint8_t*>(&d), sizeof(d)}, {},
           Deadline::after(1s));
  try {
    PeerDeviceMemory::receiveFrom(p.b, 0, Deadline::after(1s));
    FAIL() << "a descriptor of another format was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote);
    EXPECT_NE(std::string(e.what()).find("another format"), std::string::npos) << e.what();
  }
  d.magic = kIpcDescriptorMagic;
  d.version = kIpcDescriptorVersion;
  d.size = 100;
  d.mappedSize = 64;  // inconsistent
  EXPECT_THROW(PeerDeviceMemory::import(d, Fd(), 0, "peer rank 1"), Error);
}

TEST(IpcMemory, WithoutADeviceTheErrorSaysSo) {
  std::string why;
  if (cudaDevicesAvailable(&why)) GTEST_SKIP() << "a CUDA device is present; see the cuda. tests";
  EXPECT_FALSE(why.empty());
  try {
    SharedDeviceMemory::allocate(1 << 20, 0);
    FAIL() << "allocated device memory without a device";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidUsage);
#if PLEXUS_HAVE_CUDA
    EXPECT_NE(std::string(e.what()).find("sees none"), std::string::npos) << e.what();
#else
    EXPECT_NE(std::string(e.what()).find("built without CUDA"), std::string::npos) << e.what();
#endif
  }
  SharedDeviceMemory empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_THROW(empty.exportFd(), Error);
}

#if PLEXUS_HAVE_CUDA
// The driver's entry points come from the runtime at run time; without a driver the lookup fails
// with a message naming the symbol and what to check, never a crash or a link error.
TEST(IpcMemory, DriverEntryPointsWithoutADriverSayWhy) {
  std::string why;
  if (cudaDevicesAvailable(&why)) GTEST_SKIP() << "a CUDA device is present";
  try {
    const DriverApi& api = driverApi();
    EXPECT_NE(api.memCreate, nullptr);  // a driver without devices still has its entry points
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kSystem);
    EXPECT_NE(std::string(e.what()).find("CUDA driver entry point cuGetErrorName"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("NVIDIA driver"), std::string::npos) << e.what();
    EXPECT_EQ(cuErrorText(CUDA_ERROR_INVALID_VALUE), "CUresult 1 (no description)");
  }
}
#endif

}  // namespace
}  // namespace plexus::transport::cuda_ipc
