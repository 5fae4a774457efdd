// cuda-ipc memory on a real GPU: two processes on the one device share a cuMem allocation (POSIX
// fd over the fd channel) or a legacy cudaMalloc handle, one writes, the other reads exact bytes;
// two ranks of one process use the pointer directly. The gtest process itself never touches CUDA
// (a forked child could not use it): every CUDA call runs in a forked child, including the probe
// that makes each test skip with one line when there is no device.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "../common/fork_child.hpp"
#include "base/error.hpp"
#include "transports/cuda_ipc/fd_channel.hpp"
#include "transports/cuda_ipc/ipc_memory.hpp"

namespace plexus::transport::cuda_ipc {
namespace {

using namespace std::chrono_literals;

constexpr size_t kBytes = 8 << 20;

int waitChild(pid_t pid, std::chrono::milliseconds limit = 60s) {
  return plexus::testing::waitChild(pid, limit);
}

// The reason there is no usable device, "" when there is one (asked in a child).
std::string noDeviceReason() {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = plexus::testing::forkChild([&] {
    std::string why;
    if (!cudaDevicesAvailable(&why)) {
      (void)!::write(fds[1], why.data(), why.size());
      ::_exit(3);
    }
  });
  ::close(fds[1]);
  char buf[512] = {};
  const ssize_t n = ::read(fds[0], buf, sizeof(buf) - 1);
  ::close(fds[0]);
  const int rc = waitChild(pid);
  if (rc == 0) return "";
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "the device probe failed";
}

#define SKIP_WITHOUT_DEVICE()                                           \
  do {                                                                  \
    const std::string why = noDeviceReason();                           \
    if (!why.empty()) GTEST_SKIP() << "no CUDA device (" << why << ")"; \
  } while (0)

uint32_t pattern(int owner, size_t i) {
  return static_cast<uint32_t>(i) * 2246822519u + static_cast<uint32_t>(owner) * 3266489917u + 1u;
}

void check(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) throwError(ErrorCode::kSystem, "%s: %s", what, cudaGetErrorString(rc));
}

void writePattern(void* device, size_t bytes, int owner) {
  std::vector<uint32_t> host(bytes / 4);
  for (size_t i = 0; i < host.size(); ++i) host[i] = pattern(owner, i);
  check(cudaMemcpy(device, host.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

void expectPattern(const void* device, size_t bytes, int owner, const char* who) {
  std::vector<uint32_t> host(bytes / 4);
  check(cudaMemcpy(host.data(), device, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  for (size_t i = 0; i < host.size(); ++i)
    if (host[i] != pattern(owner, i))
      throwError(ErrorCode::kInternal, "%s: word %zu is %08x, expected %08x", who, i, host[i],
                 pattern(owner, i));
}

enum class Source { kCuMem, kLegacy, kAdoptCudaMalloc, kAdoptCuMem };

// What the exporter shares: its own allocation, or a window into memory it allocated otherwise.
struct Exported {
  SharedDeviceMemory owner;  // kAdoptCuMem: the allocation the window lies in
  void* raw = nullptr;       // kAdoptCudaMalloc: the user's cudaMalloc
  SharedDeviceMemory mem;
  ~Exported() {
    mem = SharedDeviceMemory();
    if (raw) cudaFree(raw);
  }
};

constexpr size_t kWindowOffset = 1 << 20;  // adopted windows start 1 MiB into their allocation

void makeExported(Source src, Exported& e) {
  AllocateOptions o;
  switch (src) {
    case Source::kCuMem:
      e.mem = SharedDeviceMemory::allocate(kBytes, 0, o);
      break;
    case Source::kLegacy:
      o.forceLegacy = true;
      e.mem = SharedDeviceMemory::allocate(kBytes, 0, o);
      break;
    case Source::kAdoptCudaMalloc:
      check(cudaSetDevice(0), "cudaSetDevice");
      check(cudaMalloc(&e.raw, kBytes + 2 * kWindowOffset), "cudaMalloc");
      e.mem = SharedDeviceMemory::adopt(static_cast<char*>(e.raw) + kWindowOffset, kBytes, 0);
      break;
    case Source::kAdoptCuMem:
      e.owner = SharedDeviceMemory::allocate(kBytes + 2 * kWindowOffset, 0, o);
      e.mem =
          SharedDeviceMemory::adopt(static_cast<char*>(e.owner.data()) + kWindowOffset, kBytes, 0);
      break;
  }
  const bool legacy = src == Source::kLegacy || src == Source::kAdoptCudaMalloc;
  const IpcHandleKind want = legacy ? IpcHandleKind::kLegacy : IpcHandleKind::kPosixFd;
  if (e.mem.kind() != want)
    throwError(ErrorCode::kInternal, "exported %s memory", ipcHandleKindName(e.mem.kind()));
}

// Exporter (rank 0) and importer (rank 1), two processes, both on device 0: the importer reads the
// exporter's first half and writes the second, the exporter reads that back.
void twoProcessesOneGpu(Source src) {
  const uint64_t id = (static_cast<uint64_t>(::getpid()) << 24) ^ (0xc0e + static_cast<int>(src));
  FdListener listener = FdListener::listen(id, 0);
  const pid_t exporter = plexus::testing::forkChild([&] {
    FdChannel ch = listener.accept(Deadline::after(30s));
    Exported e;
    makeExported(src, e);
    writePattern(e.mem.data(), kBytes / 2, 0);
    e.mem.exportTo(ch, Deadline::after(30s));
    ch.receiveTagged(2, "the importer's write", Deadline::after(30s));
    expectPattern(static_cast<char*>(e.mem.data()) + kBytes / 2, kBytes / 2, 1, "exporter");
    ch.send(3, {}, {}, Deadline::after(30s));
    ch.receiveTagged(4, "the importer's unmap", Deadline::after(30s));
  });
  listener.close();
  const pid_t importer = plexus::testing::forkChild([&] {
    FdChannel ch = connectFdChannel(id, 1, 0, Deadline::after(30s));
    {
      PeerDeviceMemory peer = PeerDeviceMemory::receiveFrom(ch, 0, Deadline::after(30s));
      if (peer.direct() || peer.size() != kBytes)
        throwError(ErrorCode::kInternal, "import: direct %d size %zu", peer.direct(), peer.size());
      expectPattern(peer.data(), kBytes / 2, 0, "importer");
      writePattern(static_cast<char*>(peer.data()) + kBytes / 2, kBytes / 2, 1);
      ch.send(2, {}, {}, Deadline::after(30s));
      ch.receiveTagged(3, "the exporter's check", Deadline::after(30s));
    }
    ch.send(4, {}, {}, Deadline::after(30s));
  });
  EXPECT_EQ(waitChild(exporter), 0);
  EXPECT_EQ(waitChild(importer), 0);
}

TEST(CudaIpc, CuMemFdBetweenTwoProcessesOnOneGpu) {
  SKIP_WITHOUT_DEVICE();
  twoProcessesOneGpu(Source::kCuMem);
}

TEST(CudaIpc, LegacyHandleBetweenTwoProcessesOnOneGpu) {
  SKIP_WITHOUT_DEVICE();
  twoProcessesOneGpu(Source::kLegacy);
}

TEST(CudaIpc, AdoptedCudaMallocWindowTravelsAsLegacyWithItsOffset) {
  SKIP_WITHOUT_DEVICE();
  twoProcessesOneGpu(Source::kAdoptCudaMalloc);
}

TEST(CudaIpc, AdoptedCuMemWindowTravelsAsFdWithItsOffset) {
  SKIP_WITHOUT_DEVICE();
  twoProcessesOneGpu(Source::kAdoptCuMem);
}

// Three ranks, three processes, one GPU: each exports its buffer to the others, writes its own
// region into every peer's buffer, and checks what the peers wrote into its own.
void meshRankOnOneGpu(uint64_t id, int rank, int ranks) {
  constexpr size_t kRegion = 1 << 20;
  FdListener listener = FdListener::listen(id, rank);
  std::vector<int> all;
  for (int r = 0; r < ranks; ++r) all.push_back(r);
  auto mesh = connectFdMesh(listener, rank, all, Deadline::after(30s));
  SharedDeviceMemory mine = SharedDeviceMemory::allocate(kRegion * ranks, 0);
  auto peers = exchangeWithPeers(mesh, mine, 0, Deadline::after(30s));
  for (auto& [peer, mem] : peers)
    writePattern(static_cast<char*>(mem.data()) + rank * kRegion, kRegion, 10 + rank);
  for (auto& [peer, ch] : mesh) ch.send(5, {}, {}, Deadline::after(30s));
  for (auto& [peer, ch] : mesh) {
    ch.receiveTagged(5, "a peer's write", Deadline::after(30s));
    expectPattern(static_cast<char*>(mine.data()) + peer * kRegion, kRegion, 10 + peer, "mesh");
  }
  for (auto& [peer, ch] : mesh) ch.send(6, {}, {}, Deadline::after(30s));  // then unmap
  for (auto& [peer, ch] : mesh) ch.receiveTagged(6, "a peer's check", Deadline::after(30s));
}

TEST(CudaIpc, ThreeRanksOnOneGpuMapEachOther) {
  SKIP_WITHOUT_DEVICE();
  const uint64_t id = (static_cast<uint64_t>(::getpid()) << 24) ^ 0x3e5;
  std::vector<pid_t> pids;
  for (int r = 0; r < 3; ++r)
    pids.push_back(plexus::testing::forkChild([=] { meshRankOnOneGpu(id, r, 3); }));
  for (int r = 0; r < 3; ++r) EXPECT_EQ(waitChild(pids[r]), 0) << "rank " << r;
}

// Two ranks of one process (a thread each would do the same): the importer sees its own pid and
// uses the exporter's pointer, for cuMem and for legacy memory (whose handle could not be opened
// here at all).
TEST(CudaIpc, RanksOfOneProcessUseThePointerDirectly) {
  SKIP_WITHOUT_DEVICE();
  const pid_t child = plexus::testing::forkChild([] {
    for (bool legacy : {false, true}) {
      AllocateOptions o;
      o.forceLegacy = legacy;
      SharedDeviceMemory mem = SharedDeviceMemory::allocate(kBytes, 0, o);
      writePattern(mem.data(), kBytes, 5);
      const IpcDescriptor d = mem.describe(0);
      PeerDeviceMemory peer = PeerDeviceMemory::import(d, Fd(), 0, "rank 0 of this process");
      if (!peer.direct() || peer.data() != mem.data())
        throwError(ErrorCode::kInternal, "same-process import was not direct");
      expectPattern(peer.data(), kBytes, 5, "same process");
    }
  });
  EXPECT_EQ(waitChild(child), 0);
}

}  // namespace
}  // namespace plexus::transport::cuda_ipc
