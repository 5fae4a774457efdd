// cuda-ipc export: cuMem allocations with POSIX-fd (and fabric) handles, or cudaMalloc memory with
// a legacy IPC handle; reserve, map and access for the owning device; descriptors for peers.
#include "transports/cuda_ipc/ipc_memory.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <cstring>

#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/cuda_ipc/driver_api.hpp"

namespace plexus::transport::cuda_ipc {

struct SharedDeviceMemory::State {
  IpcHandleKind kind = IpcHandleKind::kNone;
  int device = -1;
  size_t size = 0;
  size_t mapped = 0;
  uint8_t uuid[16] = {};
  // cuMem: the physical allocation, its reservation and whether it is mapped.
  CUmemGenericAllocationHandle handle = 0;
  bool haveHandle = false;
  CUdeviceptr base = 0;
  bool reserved = false;
  bool isMapped = false;
  bool hasFabric = false;
  CUmemFabricHandle fabric{};
  // legacy: the cudaMalloc pointer (owned memory only) and the handle.
  void* legacyPtr = nullptr;
  cudaIpcMemHandle_t legacy{};
  // adopt(): the memory is someone else's; base is its allocation, offset where the buffer starts.
  bool owned = true;
  size_t offset = 0;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    // Errors here cannot be reported to anyone; a peer's import keeps the memory alive until it
    // is unmapped there too.
    if (!owned) {
      try {
        if (haveHandle) driverApi().memRelease(handle);  // the reference adopt() retained
      } catch (const Error&) {
      }
      return;
    }
    if (legacyPtr != nullptr) {
      cudaFree(legacyPtr);
      return;
    }
    if (!haveHandle && !reserved) return;
    try {
      const DriverApi& d = driverApi();
      if (isMapped) d.memUnmap(base, mapped);
      if (reserved) d.memAddressFree(base, mapped);
      if (haveHandle) d.memRelease(handle);
    } catch (const Error&) {
    }
  }
};

namespace {

using State = SharedDeviceMemory::State;

size_t roundUp(size_t v, size_t to) {
  return (v + to - 1) / to * to;
}

CUmemAllocationProp allocationProp(int device, bool fabric) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  int types = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  if (fabric) types |= CU_MEM_HANDLE_TYPE_FABRIC;
  prop.requestedHandleTypes = static_cast<CUmemAllocationHandleType>(types);
  return prop;
}

std::string where(const AllocateOptions& o, size_t size, int device) {
  return formatString("%s of %zu bytes on device %d", o.label.c_str(), size, device);
}

void allocateCuMem(State& s, const AllocateOptions& o, bool fabricSupported) {
  const DriverApi& d = driverApi();
  bool fabric = o.fabric && fabricSupported;
  CUmemAllocationProp prop = allocationProp(s.device, fabric);
  size_t gran = 0;
  checkCu(d.memGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED),
          "cuMemGetAllocationGranularity for the " + where(o, s.size, s.device));
  s.mapped = roundUp(s.size == 0 ? 1 : s.size, gran);
  CUresult rc = d.memCreate(&s.handle, s.mapped, &prop, 0);
  if (rc != CUDA_SUCCESS && fabric) {
    // Fabric handles also need IMEX channels set up; without them keep the POSIX fd alone.
    PLEXUS_INFO(subsys::kInit,
                "cuda-ipc: device %d reports fabric handles but cuMemCreate with one failed (%s); "
                "using POSIX fds only (check the IMEX service and /dev/nvidia-caps-imex-channels)",
                s.device, cuErrorText(rc).c_str());
    fabric = false;
    prop = allocationProp(s.device, false);
    rc = d.memCreate(&s.handle, s.mapped, &prop, 0);
  }
  checkCu(rc, formatString("cuMemCreate (%zu bytes) for the %s; check free device memory "
                           "(nvidia-smi)",
                           s.mapped, where(o, s.size, s.device).c_str()));
  s.haveHandle = true;
  checkCu(d.memAddressReserve(&s.base, s.mapped, gran, 0, 0),
          "cuMemAddressReserve for the " + where(o, s.size, s.device));
  s.reserved = true;
  checkCu(d.memMap(s.base, s.mapped, 0, s.handle, 0),
          "cuMemMap for the " + where(o, s.size, s.device));
  s.isMapped = true;
  CUmemAccessDesc access{};
  access.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  access.location.id = s.device;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  checkCu(d.memSetAccess(s.base, s.mapped, &access, 1),
          "cuMemSetAccess for the " + where(o, s.size, s.device));
  if (fabric) {
    rc = d.memExportToShareableHandle(&s.fabric, s.handle, CU_MEM_HANDLE_TYPE_FABRIC, 0);
    s.hasFabric = rc == CUDA_SUCCESS;
    if (!s.hasFabric)
      PLEXUS_INFO(subsys::kInit, "cuda-ipc: exporting a fabric handle on device %d failed (%s)",
                  s.device, cuErrorText(rc).c_str());
  }
  s.kind = IpcHandleKind::kPosixFd;
}

void allocateLegacy(State& s, const AllocateOptions& o) {
  s.mapped = s.size == 0 ? 1 : s.size;
  checkCudart(cudaMalloc(&s.legacyPtr, s.mapped), "cudaMalloc for the " +
                                                      where(o, s.size, s.device) +
                                                      "; check free device memory (nvidia-smi)");
  checkCudart(cudaIpcGetMemHandle(&s.legacy, s.legacyPtr),
              "cudaIpcGetMemHandle for the " + where(o, s.size, s.device));
  s.kind = IpcHandleKind::kLegacy;
}

}  // namespace

bool cudaDevicesAvailable(std::string* why) {
  int count = 0;
  const cudaError_t rc = cudaGetDeviceCount(&count);
  if (rc != cudaSuccess || count == 0) {
    if (why)
      *why = rc != cudaSuccess ? formatString("cudaGetDeviceCount: %s", cudaGetErrorString(rc))
                               : std::string("no CUDA device");
    return false;
  }
  return true;
}

SharedDeviceMemory::SharedDeviceMemory() = default;
SharedDeviceMemory::~SharedDeviceMemory() = default;
SharedDeviceMemory::SharedDeviceMemory(SharedDeviceMemory&&) noexcept = default;
SharedDeviceMemory& SharedDeviceMemory::operator=(SharedDeviceMemory&&) noexcept = default;

SharedDeviceMemory SharedDeviceMemory::allocate(size_t size, int device,
                                                const AllocateOptions& options) {
  DeviceGuard guard(device, "allocating shared device memory");
  auto s = std::make_unique<State>();
  s->device = device;
  s->size = size;
  deviceUuid(device, s->uuid);
  const bool vmm = deviceAttribute(CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, device);
  const bool fd =
      deviceAttribute(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, device);
  const bool fabric = deviceAttribute(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED, device);
  if (!options.forceLegacy && vmm && fd) {
    allocateCuMem(*s, options, fabric);
  } else if (options.allowLegacy) {
    if (!options.forceLegacy)
      PLEXUS_INFO(subsys::kInit,
                  "cuda-ipc: device %d lacks cuMem POSIX-fd export (virtual memory management %d, "
                  "POSIX fd handles %d); using cudaMalloc and legacy IPC handles",
                  device, vmm, fd);
    allocateLegacy(*s, options);
  } else {
    throwError(ErrorCode::kInvalidUsage,
               "cuda-ipc: device %d cannot export cuMem memory as POSIX fds (virtual memory "
               "management %d, POSIX fd handles %d) and the legacy fallback was refused",
               device, vmm, fd);
  }
  SharedDeviceMemory m;
  m.state_ = std::move(s);
  return m;
}

SharedDeviceMemory SharedDeviceMemory::adopt(void* ptr, size_t size, int device,
                                             const std::string& label) {
  DeviceGuard guard(device, "exporting a user's device buffer");
  auto s = std::make_unique<State>();
  s->owned = false;
  s->device = device;
  s->size = size;
  deviceUuid(device, s->uuid);
  const DriverApi& d = driverApi();
  const auto p = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(ptr));
  size_t range = 0;
  checkCu(d.memGetAddressRange(&s->base, &range, p),
          formatString("cuMemGetAddressRange of the %s at %p on device %d (is it device memory "
                       "of this process?)",
                       label.c_str(), ptr, device));
  if (p + size > s->base + range)
    throwError(ErrorCode::kInvalidArgument,
               "cuda-ipc: the %s [%p, +%zu bytes) runs past the end of its allocation (%zu bytes "
               "from 0x%llx); a buffer must lie inside one allocation",
               label.c_str(), ptr, size, range, static_cast<unsigned long long>(s->base));
  s->offset = static_cast<size_t>(p - s->base);
  s->mapped = range;
  if (d.memRetainAllocationHandle(&s->handle, ptr) == CUDA_SUCCESS) {
    s->haveHandle = true;
    int fd = -1;
    const CUresult rc =
        d.memExportToShareableHandle(&fd, s->handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0);
    if (rc != CUDA_SUCCESS)
      throwError(ErrorCode::kInvalidUsage,
                 "cuda-ipc: the %s on device %d is cuMem memory created without "
                 "CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, so peers cannot map it (%s); allocate "
                 "it with that handle type, or with cudaMalloc",
                 label.c_str(), device, cuErrorText(rc).c_str());
    ::close(fd);
    s->hasFabric = d.memExportToShareableHandle(&s->fabric, s->handle, CU_MEM_HANDLE_TYPE_FABRIC,
                                                0) == CUDA_SUCCESS;
    s->kind = IpcHandleKind::kPosixFd;
  } else {
    checkCudart(cudaIpcGetMemHandle(&s->legacy, reinterpret_cast<void*>(s->base)),
                formatString("cudaIpcGetMemHandle of the %s on device %d (legacy IPC needs "
                             "memory from cudaMalloc: not pool, managed or host memory)",
                             label.c_str(), device));
    s->kind = IpcHandleKind::kLegacy;
  }
  SharedDeviceMemory m;
  m.state_ = std::move(s);
  return m;
}

void* SharedDeviceMemory::data() const {
  if (!state_) return nullptr;
  if (state_->legacyPtr) return state_->legacyPtr;
  return reinterpret_cast<void*>(static_cast<uintptr_t>(state_->base + state_->offset));
}
bool SharedDeviceMemory::owned() const {
  return state_ && state_->owned;
}
size_t SharedDeviceMemory::size() const {
  return state_ ? state_->size : 0;
}
size_t SharedDeviceMemory::mappedSize() const {
  return state_ ? state_->mapped : 0;
}
int SharedDeviceMemory::device() const {
  return state_ ? state_->device : -1;
}
IpcHandleKind SharedDeviceMemory::kind() const {
  return state_ ? state_->kind : IpcHandleKind::kNone;
}
bool SharedDeviceMemory::hasFabricHandle() const {
  return state_ && state_->hasFabric;
}

IpcDescriptor SharedDeviceMemory::describe(int selfRank) const {
  if (!state_) throwError(ErrorCode::kInvalidUsage, "cuda-ipc: describe() of an empty buffer");
  const State& s = *state_;
  IpcDescriptor d;
  d.magic = kIpcDescriptorMagic;
  d.version = kIpcDescriptorVersion;
  d.kind = s.kind;
  d.hasFabric = s.hasFabric ? 1 : 0;
  d.exporterRank = selfRank;
  d.exporterPid = static_cast<int32_t>(::getpid());
  d.exporterDevice = s.device;
  std::memcpy(d.deviceUuid, s.uuid, sizeof(d.deviceUuid));
  d.size = s.size;
  d.mappedSize = s.mapped;
  d.offset = s.offset;
  d.exporterAddress =
      s.legacyPtr ? reinterpret_cast<uintptr_t>(s.legacyPtr) : static_cast<uint64_t>(s.base);
  static_assert(sizeof(d.fabricHandle) == sizeof(CUmemFabricHandle));
  static_assert(sizeof(d.legacyHandle) == sizeof(cudaIpcMemHandle_t));
  if (s.hasFabric) std::memcpy(d.fabricHandle, &s.fabric, sizeof(d.fabricHandle));
  if (s.kind == IpcHandleKind::kLegacy) std::memcpy(d.legacyHandle, &s.legacy, sizeof(s.legacy));
  return d;
}

Fd SharedDeviceMemory::exportFd() const {
  if (!state_ || state_->kind != IpcHandleKind::kPosixFd)
    throwError(ErrorCode::kInvalidUsage,
               "cuda-ipc: exportFd() on a %s buffer; only cuMem (posix-fd) buffers have one",
               ipcHandleKindName(kind()));
  int fd = -1;
  checkCu(driverApi().memExportToShareableHandle(&fd, state_->handle,
                                                 CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
          formatString("cuMemExportToShareableHandle (POSIX fd) on device %d; check the "
                       "process's open-file limit (ulimit -n)",
                       state_->device));
  return Fd(fd);
}

}  // namespace plexus::transport::cuda_ipc
#endif
