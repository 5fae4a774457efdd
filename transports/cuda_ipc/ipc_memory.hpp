// cuda-ipc memory: device buffers that the ranks of one host (and, with fabric handles, of one
// multi-node NVLink domain) map into each other's address space.
//
// Handle types, best first:
//   kPosixFd  cuMemCreate allocation exported as a POSIX file descriptor
//             (CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR), passed over an FdChannel (SCM_RIGHTS)
//             and imported with cuMemImportFromShareableHandle, then reserved, mapped and given
//             access (cuMemAddressReserve / cuMemMap / cuMemSetAccess; sizes rounded to
//             cuMemGetAllocationGranularity's recommended granularity).
//   kFabric   the same allocation also created with CU_MEM_HANDLE_TYPE_FABRIC when the device
//             reports CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED (and IMEX lets it): a
//             64-byte handle that needs no socket, importable on every host of the NVLink domain
//             (NVL72 / NVL576 class). The descriptor carries it beside the fd when there is one.
//   kLegacy   cudaMalloc memory shared with cudaIpcGetMemHandle / cudaIpcOpenMemHandle, used when
//             the device lacks virtual memory management or POSIX-fd handles (or when asked), and
//             for adopt()ed user buffers that are not cuMem. A legacy handle cannot be opened in
//             the process that made it (opening it twice elsewhere returns the same mapping,
//             reference counted), it covers a whole cudaMalloc allocation (buffers inside one
//             travel as an offset), and the exporter must keep the memory until importers close.
//
// Several ranks on one GPU are allowed (NCCL refuses them; Plexus must not: it is how a one-GPU
// machine tests multi-rank runs). Nothing here assumes distinct devices per rank:
//   - ranks in distinct processes on the same GPU import each other's cuMem fds (or legacy
//     handles) like any peer; the mapping is then a second virtual address for the same memory;
//   - ranks in the same process (threads) never import: the importer sees the exporter's pid,
//     uses the exporter's pointer directly, and only grants its own device access when that
//     device differs (cuMemSetAccess, or peer access for legacy memory). This is also why the
//     legacy limit above never bites several ranks of one process.
// Devices are matched by UUID, never by ordinal: CUDA_VISIBLE_DEVICES may number them differently
// in each rank.
//
// All driver calls go through entry points looked up at run time (driver_api.hpp); nothing links
// libcuda. Built without CUDA, the types exist and every call that would touch a device throws
// Error(kInvalidUsage) saying Plexus was built without CUDA. Untested on a GPU so far
// (docs/gpu.md).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/deadline.hpp"
#include "base/socket.hpp"
#include "transports/cuda_ipc/fd_channel.hpp"

namespace plexus::transport::cuda_ipc {

enum class IpcHandleKind : uint8_t { kNone = 0, kPosixFd = 1, kFabric = 2, kLegacy = 3 };
const char* ipcHandleKindName(IpcHandleKind k);  // "posix-fd", "fabric", "legacy", "none"

// What a peer needs to map an exported buffer: sent as bytes over an FdChannel (with the fd for
// kPosixFd), or through any side band for kFabric. Trivially copyable, fixed layout.
struct IpcDescriptor {
  uint32_t magic = 0;
  uint32_t version = 0;
  IpcHandleKind kind = IpcHandleKind::kNone;
  uint8_t hasFabric = 0;  // fabricHandle is valid (any kind)
  uint8_t reserved[2] = {};
  int32_t exporterRank = -1;
  int32_t exporterPid = 0;
  int32_t exporterDevice = -1;   // ordinal in the exporter's process (for messages only)
  uint8_t deviceUuid[16] = {};   // the GPU the memory lives on
  uint64_t size = 0;             // usable bytes
  uint64_t mappedSize = 0;       // bytes of the allocation (granularity multiple)
  uint64_t offset = 0;           // where the buffer starts inside the allocation
  uint64_t exporterAddress = 0;  // allocation base in the exporter (same process: used directly)
  uint8_t fabricHandle[64] = {};
  uint8_t legacyHandle[64] = {};
};
constexpr uint32_t kIpcDescriptorMagic = 0x50584d44;  // "PXMD"
constexpr uint32_t kIpcDescriptorVersion = 1;

struct AllocateOptions {
  bool fabric = true;        // also request a fabric handle where the device supports it
  bool allowLegacy = true;   // fall back to cudaMalloc + legacy IPC when cuMem cannot export fds
  bool forceLegacy = false;  // use the legacy path even where cuMem works (tests, workarounds)
  std::string label = "buffer";  // names the buffer in errors
};

// True when a CUDA device is usable in this process; otherwise false and `why` says why (built
// without CUDA, no driver, no device).
bool cudaDevicesAvailable(std::string* why);

// A device buffer this rank owns and can export. Move-only; freed (unmapped, released) on
// destruction. Peers' imports keep the memory alive until they too are gone.
class SharedDeviceMemory {
 public:
  SharedDeviceMemory();
  ~SharedDeviceMemory();
  SharedDeviceMemory(SharedDeviceMemory&&) noexcept;
  SharedDeviceMemory& operator=(SharedDeviceMemory&&) noexcept;
  SharedDeviceMemory(const SharedDeviceMemory&) = delete;
  SharedDeviceMemory& operator=(const SharedDeviceMemory&) = delete;

  // Allocates `size` bytes on `device` (an ordinal of this process), readable and writable from
  // it. Throws Error naming the device, the size and what to check.
  static SharedDeviceMemory allocate(size_t size, int device, const AllocateOptions& options = {});

  // Exports memory someone else allocated (a user buffer: cudaMalloc, cuMem, a framework's
  // allocator) without taking it over: a cuMem allocation made with POSIX-fd handles is exported
  // as kPosixFd (found with cuMemRetainAllocationHandle), anything else from cudaMalloc as
  // kLegacy. [ptr, ptr + size) must lie inside one allocation; the owner must keep it alive
  // until every peer has dropped its import. Throws Error naming the device and what to check.
  static SharedDeviceMemory adopt(void* ptr, size_t size, int device,
                                  const std::string& label = "user buffer");

  void* data() const;
  size_t size() const;
  size_t mappedSize() const;
  int device() const;
  IpcHandleKind kind() const;
  bool hasFabricHandle() const;
  bool owned() const;  // false for adopt()ed memory
  bool valid() const { return state_ != nullptr; }

  // The descriptor peers import; `selfRank` names this rank in their errors.
  IpcDescriptor describe(int selfRank) const;
  // A new POSIX descriptor of the allocation (kPosixFd only), to pass to one peer and close.
  Fd exportFd() const;
  // Sends the descriptor (and a fresh fd for kPosixFd) to the channel's peer.
  void exportTo(FdChannel& channel, Deadline deadline,
                const std::atomic<bool>* abort = nullptr) const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// A peer's buffer mapped into this process. Move-only; unmapped on destruction.
class PeerDeviceMemory {
 public:
  PeerDeviceMemory();
  ~PeerDeviceMemory();
  PeerDeviceMemory(PeerDeviceMemory&&) noexcept;
  PeerDeviceMemory& operator=(PeerDeviceMemory&&) noexcept;
  PeerDeviceMemory(const PeerDeviceMemory&) = delete;
  PeerDeviceMemory& operator=(const PeerDeviceMemory&) = delete;

  // Maps `desc` for use from `device` (an ordinal of this process). `fd` is the descriptor that
  // came with it (kPosixFd from another process; ignored otherwise). `peer` names the exporter in
  // errors ("peer rank 3 (pid 1234)"). Prefers the fd, then the fabric handle, then the legacy
  // handle; the same process uses the exporter's pointer directly.
  static PeerDeviceMemory import(const IpcDescriptor& desc, Fd fd, int device,
                                 const std::string& peer);
  // Receives one exportTo() from the channel's peer and imports it.
  static PeerDeviceMemory receiveFrom(FdChannel& channel, int device, Deadline deadline,
                                      const std::atomic<bool>* abort = nullptr);

  void* data() const;
  size_t size() const;
  IpcHandleKind kind() const;
  // True when the exporter is this process and data() is its own pointer.
  bool direct() const;
  bool valid() const { return state_ != nullptr; }

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// Every rank of a mesh (connectFdMesh) exports `mine` to each peer and imports each peer's buffer
// for use from `device`; returns the peers' buffers by rank. Sends to all before receiving, so no
// pair waits on the other. Works the same when several ranks share the GPU.
std::map<int, PeerDeviceMemory> exchangeWithPeers(std::map<int, FdChannel>& mesh,
                                                  const SharedDeviceMemory& mine, int device,
                                                  Deadline deadline,
                                                  const std::atomic<bool>* abort = nullptr);

// Throws Error(kRemote) naming `peer` for a descriptor of another format or with inconsistent
// sizes (import() checks this first, before any device work).
void validateIpcDescriptor(const IpcDescriptor& desc, const std::string& peer);

// The tag of an exportTo() message on an FdChannel.
constexpr uint32_t kIpcDescriptorTag = 0x49504d31;  // "IPM1"

}  // namespace plexus::transport::cuda_ipc
