// cuda-ipc memory: what both builds share (names, the exchange over an FdChannel) and, built
// without CUDA, the stand-ins that say so. The device work is in ipc_export.cpp / ipc_import.cpp.
#include "transports/cuda_ipc/ipc_memory.hpp"

#include <cstring>
#include <vector>

#include "base/error.hpp"

namespace plexus::transport::cuda_ipc {

const char* ipcHandleKindName(IpcHandleKind k) {
  switch (k) {
    case IpcHandleKind::kPosixFd:
      return "posix-fd";
    case IpcHandleKind::kFabric:
      return "fabric";
    case IpcHandleKind::kLegacy:
      return "legacy";
    case IpcHandleKind::kNone:
      break;
  }
  return "none";
}

void validateIpcDescriptor(const IpcDescriptor& d, const std::string& peer) {
  if (d.magic != kIpcDescriptorMagic || d.version != kIpcDescriptorVersion)
    throwError(ErrorCode::kRemote,
               "cuda-ipc: %s sent a buffer descriptor of another format (magic %08x version %u); "
               "are both ranks the same Plexus version?",
               peer.c_str(), d.magic, d.version);
  if (d.size > d.mappedSize || d.offset > d.mappedSize - d.size)
    throwError(ErrorCode::kRemote, "cuda-ipc: %s sent an inconsistent buffer descriptor",
               peer.c_str());
}

void SharedDeviceMemory::exportTo(FdChannel& channel, Deadline deadline,
                                  const std::atomic<bool>* abort) const {
  const IpcDescriptor desc = describe(channel.selfRank());
  Fd fd;
  if (desc.kind == IpcHandleKind::kPosixFd) fd = exportFd();
  const int fds[] = {fd.get()};
  const std::span<const int> passing = fd ? std::span<const int>(fds) : std::span<const int>();
  channel.send(kIpcDescriptorTag, {reinterpret_cast<const uint8_t*>(&desc), sizeof(desc)}, passing,
               deadline, abort);
}

PeerDeviceMemory PeerDeviceMemory::receiveFrom(FdChannel& channel, int device, Deadline deadline,
                                               const std::atomic<bool>* abort) {
  FdMessage m = channel.receiveTagged(kIpcDescriptorTag, "a cuda-ipc buffer", deadline, abort);
  IpcDescriptor desc;
  if (m.bytes.size() != sizeof(desc))
    throwError(ErrorCode::kRemote,
               "cuda-ipc: rank %d got a %zu-byte buffer descriptor from %s, expected %zu; are both "
               "ranks the same Plexus version?",
               channel.selfRank(), m.bytes.size(), channel.peerName().c_str(), sizeof(desc));
  std::memcpy(&desc, m.bytes.data(), sizeof(desc));
  Fd fd = m.fds.empty() ? Fd() : std::move(m.fds[0]);
  return import(desc, std::move(fd), device, channel.peerName());
}

std::map<int, PeerDeviceMemory> exchangeWithPeers(std::map<int, FdChannel>& mesh,
                                                  const SharedDeviceMemory& mine, int device,
                                                  Deadline deadline,
                                                  const std::atomic<bool>* abort) {
  for (auto& [peer, channel] : mesh) mine.exportTo(channel, deadline, abort);
  std::map<int, PeerDeviceMemory> out;
  for (auto& [peer, channel] : mesh)
    out.emplace(peer, PeerDeviceMemory::receiveFrom(channel, device, deadline, abort));
  return out;
}

#if !PLEXUS_HAVE_CUDA

namespace {
[[noreturn]] void noCuda(const char* what) {
  throwError(
      ErrorCode::kInvalidUsage,
      "cuda-ipc: %s needs CUDA, and this Plexus was built without CUDA (-DPLEXUS_CUDA=OFF or "
      "no toolkit found); rebuild with -DPLEXUS_CUDA=ON",
      what);
}
}  // namespace

struct SharedDeviceMemory::State {};
struct PeerDeviceMemory::State {};

bool cudaDevicesAvailable(std::string* why) {
  if (why) *why = "Plexus was built without CUDA";
  return false;
}

SharedDeviceMemory::SharedDeviceMemory() = default;
SharedDeviceMemory::~SharedDeviceMemory() = default;
SharedDeviceMemory::SharedDeviceMemory(SharedDeviceMemory&&) noexcept = default;
SharedDeviceMemory& SharedDeviceMemory::operator=(SharedDeviceMemory&&) noexcept = default;
SharedDeviceMemory SharedDeviceMemory::allocate(size_t, int, const AllocateOptions&) {
  noCuda("allocating shared device memory");
}
void* SharedDeviceMemory::data() const {
  return nullptr;
}
size_t SharedDeviceMemory::size() const {
  return 0;
}
size_t SharedDeviceMemory::mappedSize() const {
  return 0;
}
int SharedDeviceMemory::device() const {
  return -1;
}
IpcHandleKind SharedDeviceMemory::kind() const {
  return IpcHandleKind::kNone;
}
bool SharedDeviceMemory::hasFabricHandle() const {
  return false;
}
IpcDescriptor SharedDeviceMemory::describe(int) const {
  noCuda("describing device memory");
}
Fd SharedDeviceMemory::exportFd() const {
  noCuda("exporting device memory");
}

PeerDeviceMemory::PeerDeviceMemory() = default;
PeerDeviceMemory::~PeerDeviceMemory() = default;
PeerDeviceMemory::PeerDeviceMemory(PeerDeviceMemory&&) noexcept = default;
PeerDeviceMemory& PeerDeviceMemory::operator=(PeerDeviceMemory&&) noexcept = default;
PeerDeviceMemory PeerDeviceMemory::import(const IpcDescriptor& desc, Fd, int,
                                          const std::string& peer) {
  validateIpcDescriptor(desc, peer);
  noCuda("importing a peer's device memory");
}
void* PeerDeviceMemory::data() const {
  return nullptr;
}
size_t PeerDeviceMemory::size() const {
  return 0;
}
IpcHandleKind PeerDeviceMemory::kind() const {
  return IpcHandleKind::kNone;
}
bool PeerDeviceMemory::direct() const {
  return false;
}

#endif

}  // namespace plexus::transport::cuda_ipc
