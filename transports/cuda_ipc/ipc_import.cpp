// cuda-ipc import: a peer's buffer mapped here from its POSIX fd, its fabric handle or its legacy
// handle; or, when the peer is this very process, its pointer used directly.
#include "transports/cuda_ipc/ipc_memory.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <cstring>

#include "base/error.hpp"
#include "transports/cuda_ipc/driver_api.hpp"

namespace plexus::transport::cuda_ipc {

struct PeerDeviceMemory::State {
  IpcHandleKind kind = IpcHandleKind::kNone;
  size_t size = 0;
  size_t mapped = 0;
  uint64_t offset = 0;
  bool direct = false;
  void* directPtr = nullptr;
  CUdeviceptr base = 0;  // our reservation (fd / fabric imports)
  bool reserved = false;
  bool isMapped = false;
  void* legacyPtr = nullptr;  // cudaIpcOpenMemHandle's mapping

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (legacyPtr != nullptr) {
      cudaIpcCloseMemHandle(legacyPtr);
      return;
    }
    if (!reserved) return;
    try {
      const DriverApi& d = driverApi();
      if (isMapped) d.memUnmap(base, mapped);
      d.memAddressFree(base, mapped);
    } catch (const Error&) {
    }
  }
};

namespace {

using State = PeerDeviceMemory::State;

// Everything an import error says: who exported what, where, and onto which device here.
struct ImportContext {
  const IpcDescriptor& desc;
  int device;
  const std::string& peer;

  std::string describe() const {
    return formatString(
        "the %s buffer of %s (%llu bytes on its device %d, %s) onto device %d of "
        "pid %d",
        ipcHandleKindName(desc.kind), peer.c_str(), static_cast<unsigned long long>(desc.size),
        desc.exporterDevice, uuidText(desc.deviceUuid).c_str(), device,
        static_cast<int>(::getpid()));
  }
  [[noreturn]] void fail(const std::string& call, const std::string& error,
                         const char* check) const {
    throwError(ErrorCode::kSystem, "cuda-ipc: could not import %s: %s failed: %s; %s",
               describe().c_str(), call.c_str(), error.c_str(), check);
  }
};

constexpr const char* kCheckSameGpu =
    "check that both ranks see the exporter's GPU (CUDA_VISIBLE_DEVICES, nvidia-smi -L), that "
    "both processes run in the same container / IPC namespace, the open-file limit (ulimit -n), "
    "and, where fds are fetched with pidfd_getfd, the ptrace rules (kernel.yama.ptrace_scope)";

void grantAccess(CUdeviceptr base, size_t bytes, int device, const ImportContext& c) {
  CUmemAccessDesc access{};
  access.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  access.location.id = device;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  const CUresult rc = driverApi().memSetAccess(base, bytes, &access, 1);
  if (rc != CUDA_SUCCESS)
    c.fail("cuMemSetAccess", cuErrorText(rc),
           "check that the two GPUs can reach each other (cudaDeviceCanAccessPeer, "
           "nvidia-smi topo -p2p r)");
}

// Same process: the exporter's pointer is ours; only another device needs access granted.
void importDirect(State& s, const ImportContext& c, bool sameDevice) {
  s.direct = true;
  s.directPtr = reinterpret_cast<void*>(static_cast<uintptr_t>(c.desc.exporterAddress));
  if (sameDevice) return;
  if (c.desc.kind == IpcHandleKind::kLegacy) {
    const cudaError_t rc = cudaDeviceEnablePeerAccess(c.desc.exporterDevice, 0);
    if (rc != cudaSuccess && rc != cudaErrorPeerAccessAlreadyEnabled)
      c.fail("cudaDeviceEnablePeerAccess", cudaGetErrorString(rc),
             "check that the two GPUs can reach each other (nvidia-smi topo -p2p r)");
    cudaGetLastError();  // clear the sticky "already enabled"
    return;
  }
  grantAccess(static_cast<CUdeviceptr>(c.desc.exporterAddress), c.desc.mappedSize, c.device, c);
}

void mapImported(State& s, CUmemGenericAllocationHandle h, const ImportContext& c) {
  const DriverApi& d = driverApi();
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = c.device;
  size_t gran = 0;
  CUresult rc = d.memGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM);
  if (rc != CUDA_SUCCESS) gran = 0;  // the default alignment
  s.mapped = c.desc.mappedSize;
  rc = d.memAddressReserve(&s.base, s.mapped, gran, 0, 0);
  if (rc != CUDA_SUCCESS) {
    d.memRelease(h);
    c.fail("cuMemAddressReserve", cuErrorText(rc), "check the process's virtual address space");
  }
  s.reserved = true;
  rc = d.memMap(s.base, s.mapped, 0, h, 0);
  d.memRelease(h);  // the mapping holds the allocation from here on
  if (rc != CUDA_SUCCESS) c.fail("cuMemMap", cuErrorText(rc), kCheckSameGpu);
  s.isMapped = true;
  grantAccess(s.base, s.mapped, c.device, c);
}

void importFd(State& s, Fd fd, const ImportContext& c) {
  CUmemGenericAllocationHandle h = 0;
  const CUresult rc = driverApi().memImportFromShareableHandle(
      &h, reinterpret_cast<void*>(static_cast<uintptr_t>(fd.get())),
      CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  if (rc != CUDA_SUCCESS)
    c.fail("cuMemImportFromShareableHandle (POSIX fd)", cuErrorText(rc), kCheckSameGpu);
  fd.reset();  // the imported handle holds its own reference
  mapImported(s, h, c);
  s.kind = IpcHandleKind::kPosixFd;
}

void importFabric(State& s, const ImportContext& c) {
  CUmemFabricHandle fh;
  std::memcpy(&fh, c.desc.fabricHandle, sizeof(fh));
  CUmemGenericAllocationHandle h = 0;
  const CUresult rc = driverApi().memImportFromShareableHandle(&h, &fh, CU_MEM_HANDLE_TYPE_FABRIC);
  if (rc != CUDA_SUCCESS)
    c.fail("cuMemImportFromShareableHandle (fabric)", cuErrorText(rc),
           "check that both GPUs are in one NVLink domain (nvidia-smi -q: Fabric, ClusterUUID), "
           "that the IMEX service runs and this process may use its channel "
           "(/dev/nvidia-caps-imex-channels)");
  mapImported(s, h, c);
  s.kind = IpcHandleKind::kFabric;
}

void importLegacy(State& s, const ImportContext& c) {
  cudaIpcMemHandle_t h;
  std::memcpy(&h, c.desc.legacyHandle, sizeof(h));
  const cudaError_t rc = cudaIpcOpenMemHandle(&s.legacyPtr, h, cudaIpcMemLazyEnablePeerAccess);
  if (rc != cudaSuccess) {
    s.legacyPtr = nullptr;
    c.fail("cudaIpcOpenMemHandle", cudaGetErrorString(rc),
           "a legacy handle cannot be opened in the process that made it; "
           "otherwise check that both ranks see the exporter's GPU (CUDA_VISIBLE_DEVICES) and "
           "share the IPC namespace");
  }
  s.mapped = c.desc.mappedSize;
  s.kind = IpcHandleKind::kLegacy;
}

}  // namespace

PeerDeviceMemory::PeerDeviceMemory() = default;
PeerDeviceMemory::~PeerDeviceMemory() = default;
PeerDeviceMemory::PeerDeviceMemory(PeerDeviceMemory&&) noexcept = default;
PeerDeviceMemory& PeerDeviceMemory::operator=(PeerDeviceMemory&&) noexcept = default;

PeerDeviceMemory PeerDeviceMemory::import(const IpcDescriptor& desc, Fd fd, int device,
                                          const std::string& peer) {
  validateIpcDescriptor(desc, peer);
  DeviceGuard guard(device, "importing a peer's device memory");
  const ImportContext c{desc, device, peer};
  uint8_t mine[16];
  deviceUuid(device, mine);
  const bool sameDevice = std::memcmp(mine, desc.deviceUuid, sizeof(mine)) == 0;
  if (!sameDevice) {
    const int owner = deviceWithUuid(desc.deviceUuid);
    int can = 0;
    if (owner >= 0 && cudaDeviceCanAccessPeer(&can, device, owner) == cudaSuccess && !can)
      throwError(ErrorCode::kInvalidUsage,
                 "cuda-ipc: cannot import %s: device %d here has no peer access to device %d (%s); "
                 "these two GPUs need the staged path (nvidia-smi topo -p2p r shows why)",
                 c.describe().c_str(), device, owner, uuidText(desc.deviceUuid).c_str());
  }
  auto s = std::make_unique<State>();
  s->size = desc.size;
  s->offset = desc.offset;
  s->kind = desc.kind;
  if (desc.exporterPid == static_cast<int32_t>(::getpid()))
    importDirect(*s, c, sameDevice);
  else if (desc.kind == IpcHandleKind::kPosixFd && fd)
    importFd(*s, std::move(fd), c);
  else if (desc.hasFabric)
    importFabric(*s, c);
  else if (desc.kind == IpcHandleKind::kLegacy)
    importLegacy(*s, c);
  else
    throwError(ErrorCode::kRemote,
               "cuda-ipc: %s sent a %s buffer descriptor without its file descriptor and without a "
               "fabric handle; nothing to import",
               peer.c_str(), ipcHandleKindName(desc.kind));
  PeerDeviceMemory m;
  m.state_ = std::move(s);
  return m;
}

void* PeerDeviceMemory::data() const {
  if (!state_) return nullptr;
  char* base = state_->direct      ? static_cast<char*>(state_->directPtr)
               : state_->legacyPtr ? static_cast<char*>(state_->legacyPtr)
                                   : reinterpret_cast<char*>(static_cast<uintptr_t>(state_->base));
  return base + state_->offset;
}
size_t PeerDeviceMemory::size() const {
  return state_ ? state_->size : 0;
}
IpcHandleKind PeerDeviceMemory::kind() const {
  return state_ ? state_->kind : IpcHandleKind::kNone;
}
bool PeerDeviceMemory::direct() const {
  return state_ && state_->direct;
}

}  // namespace plexus::transport::cuda_ipc
#endif
