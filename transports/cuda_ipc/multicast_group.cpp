// Multicast memory on the driver: entry points, the support check, and the object's pieces
// (create, export/import, add device, allocate + bind + map, teardown). The set-up protocol
// between the ranks is multicast_setup.cpp.
#include "transports/cuda_ipc/multicast_group.hpp"

#include "transports/cuda_ipc/multicast_driver.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "base/error.hpp"
#include "transports/cuda_ipc/ipc_memory.hpp"

namespace plexus::transport::cuda_ipc {
namespace {

template <typename Fn>
void lookUp(Fn& fn, const char* symbol, std::string& error) {
  void* p = nullptr;
  cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
  const cudaError_t rc =
      cudaGetDriverEntryPointByVersion(symbol, &p, 12010, cudaEnableDefault, &status);
  if (rc != cudaSuccess || status != cudaDriverEntryPointSuccess || p == nullptr) {
    if (error.empty())
      error = formatString(
          "the CUDA driver entry point %s (ABI 12010) is not available (%s, query status %d); "
          "multicast objects need an NVIDIA driver for CUDA 12.1 or newer",
          symbol, cudaGetErrorString(rc), static_cast<int>(status));
    return;
  }
  fn = reinterpret_cast<Fn>(p);
}

struct LoadedMulticast {
  MulticastDriver api;
  std::string error;
};

LoadedMulticast loadMulticast() {
  LoadedMulticast l;
  lookUp(l.api.create, "cuMulticastCreate", l.error);
  lookUp(l.api.addDevice, "cuMulticastAddDevice", l.error);
  lookUp(l.api.bindMem, "cuMulticastBindMem", l.error);
  lookUp(l.api.unbind, "cuMulticastUnbind", l.error);
  lookUp(l.api.granularity, "cuMulticastGetGranularity", l.error);
  return l;
}

size_t roundUp(size_t v, size_t to) {
  return (v + to - 1) / to * to;
}

CUmemAccessDesc readWrite(int device) {
  CUmemAccessDesc a{};
  a.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  a.location.id = device;
  a.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  return a;
}

// Reserves `size` bytes of addresses, maps `handle` there and gives `device` access.
void mapHandle(CUmemGenericAllocationHandle handle, size_t size, size_t align, int device,
               CUdeviceptr& base, bool& reserved, bool& mapped, const char* what) {
  const DriverApi& d = driverApi();
  checkCu(d.memAddressReserve(&base, size, align, 0, 0),
          formatString("cuMemAddressReserve of %zu bytes for the %s", size, what));
  reserved = true;
  checkCu(d.memMap(base, size, 0, handle, 0), formatString("cuMemMap of the %s", what));
  mapped = true;
  const CUmemAccessDesc access = readWrite(device);
  checkCu(d.memSetAccess(base, size, &access, 1),
          formatString("cuMemSetAccess of the %s for device %d", what, device));
}

}  // namespace

const MulticastDriver& multicastDriver() {
  static const LoadedMulticast loaded = loadMulticast();
  if (!loaded.error.empty()) throwError(ErrorCode::kSystem, "cuda-ipc: %s", loaded.error.c_str());
  return loaded.api;
}

std::string multicastDeviceName(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return formatString("GPU %d", device);
  uint8_t uuid[16];
  std::copy(prop.uuid.bytes, prop.uuid.bytes + 16, uuid);
  return formatString("GPU %d (%s, %s)", device, prop.name, uuidText(uuid).c_str());
}

MulticastSupport multicastSupport(int device) {
  std::string why;
  if (!cudaDevicesAvailable(&why))
    return {false, formatString("no multicast on device %d: %s", device, why.c_str())};
  try {
    multicastDriver();
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || device < 0 || device >= count)
      return {false, formatString("no multicast on device %d: it is not one of this process's %d "
                                  "devices; check CUDA_VISIBLE_DEVICES",
                                  device, count)};
    const std::string name = multicastDeviceName(device);
    if (deviceAttribute(CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED, device) == 0)
      return {false,
              name +
                  " does not support multicast objects (CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED "
                  "is 0): NVLink SHARP needs an sm_90 or newer GPU behind an NVSwitch with the "
                  "fabric manager running; check `nvidia-smi -q` (Fabric) and the driver"};
    if (deviceAttribute(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, device) ==
        0)
      return {false, name +
                         " cannot export POSIX file descriptors of cuMem handles, which the "
                         "multicast set-up passes between processes"};
  } catch (const Error& e) {
    return {false, formatString("no multicast on device %d: %s", device, e.what())};
  }
  return {true, ""};
}

MulticastGroup::State::~State() {
  // Errors here cannot be reported to anyone; peers keep their own bindings.
  try {
    const DriverApi& d = driverApi();
    if (mcMapped) d.memUnmap(mcBase, size);
    if (mcReserved) d.memAddressFree(mcBase, size);
    if (bound) multicastDriver().unbind(mc, cuDevice, 0, size);
    if (ucMapped) d.memUnmap(ucBase, size);
    if (ucReserved) d.memAddressFree(ucBase, size);
    if (haveMem) d.memRelease(mem);
    if (haveMc) d.memRelease(mc);
  } catch (const Error&) {
  }
}

size_t multicastSizeFor(int nranks, size_t bytes, int device) {
  CUmemAllocationProp alloc{};
  alloc.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  alloc.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  alloc.location.id = device;
  alloc.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  size_t allocGranularity = 0;
  checkCu(driverApi().memGetAllocationGranularity(&allocGranularity, &alloc,
                                                  CU_MEM_ALLOC_GRANULARITY_RECOMMENDED),
          "cuMemGetAllocationGranularity");
  CUmulticastObjectProp prop{};
  prop.numDevices = static_cast<unsigned>(nranks);
  prop.size = bytes;
  prop.handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  size_t mcGranularity = 0;
  checkCu(
      multicastDriver().granularity(&mcGranularity, &prop, CU_MULTICAST_GRANULARITY_RECOMMENDED),
      "cuMulticastGetGranularity");
  // Both are powers of two: the larger is a multiple of the smaller.
  return roundUp(std::max<size_t>(bytes, 1),
                 std::max<size_t>({mcGranularity, allocGranularity, size_t{1}}));
}

void createMulticastObject(MulticastGroup::State& s) {
  CUmulticastObjectProp prop{};
  prop.numDevices = static_cast<unsigned>(s.nranks);
  prop.size = s.size;
  prop.handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  checkCu(multicastDriver().create(&s.mc, &prop),
          formatString("cuMulticastCreate of %zu bytes for %d GPUs", s.size, s.nranks));
  s.haveMc = true;
}

Fd exportMulticastObject(const MulticastGroup::State& s) {
  int fd = -1;
  checkCu(driverApi().memExportToShareableHandle(&fd, s.mc,
                                                 CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
          "cuMemExportToShareableHandle of the multicast object");
  return Fd(fd);
}

void importMulticastObject(MulticastGroup::State& s, const Fd& fd) {
  checkCu(driverApi().memImportFromShareableHandle(
              &s.mc, reinterpret_cast<void*>(static_cast<uintptr_t>(fd.get())),
              CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR),
          "cuMemImportFromShareableHandle of the multicast object");
  s.haveMc = true;
}

void addMulticastDevice(MulticastGroup::State& s) {
  checkCu(driverApi().deviceGet(&s.cuDevice, s.device), formatString("cuDeviceGet(%d)", s.device));
  checkCu(multicastDriver().addDevice(s.mc, s.cuDevice),
          "cuMulticastAddDevice of " + multicastDeviceName(s.device));
}

void bindAndMapMulticast(MulticastGroup::State& s) {
  const DriverApi& d = driverApi();
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = s.device;
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  size_t granularity = 0;
  checkCu(d.memGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED),
          "cuMemGetAllocationGranularity");
  if (granularity == 0 || s.size % granularity != 0)
    throwError(ErrorCode::kInternal,
               "cuda-ipc: the multicast size %zu is not a multiple of the allocation granularity "
               "%zu of %s",
               s.size, granularity, multicastDeviceName(s.device).c_str());
  checkCu(d.memCreate(&s.mem, s.size, &prop, 0),
          formatString("cuMemCreate of %zu bytes on %s", s.size,
                       multicastDeviceName(s.device).c_str()));
  s.haveMem = true;
  mapHandle(s.mem, s.size, granularity, s.device, s.ucBase, s.ucReserved, s.ucMapped,
            "multicast group's own memory");
  checkCudart(cudaMemset(reinterpret_cast<void*>(s.ucBase), 0, s.size),
              "cudaMemset of the multicast group's memory");
  checkCudart(cudaDeviceSynchronize(), "cudaDeviceSynchronize after zeroing multicast memory");
  checkCu(multicastDriver().bindMem(s.mc, 0, s.mem, 0, s.size, 0),
          "cuMulticastBindMem on " + multicastDeviceName(s.device));
  s.bound = true;
  mapHandle(s.mc, s.size, granularity, s.device, s.mcBase, s.mcReserved, s.mcMapped,
            "multicast address");
}

MulticastGroup::MulticastGroup() = default;
MulticastGroup::~MulticastGroup() = default;
MulticastGroup::MulticastGroup(MulticastGroup&&) noexcept = default;
MulticastGroup& MulticastGroup::operator=(MulticastGroup&&) noexcept = default;

void* MulticastGroup::unicast() const {
  return state_ ? reinterpret_cast<void*>(state_->ucBase) : nullptr;
}
void* MulticastGroup::multicast() const {
  return state_ ? reinterpret_cast<void*>(state_->mcBase) : nullptr;
}
size_t MulticastGroup::size() const {
  return state_ ? state_->size : 0;
}
int MulticastGroup::nranks() const {
  return state_ ? state_->nranks : 0;
}
int MulticastGroup::rank() const {
  return state_ ? state_->rank : -1;
}
int MulticastGroup::device() const {
  return state_ ? state_->device : -1;
}

}  // namespace plexus::transport::cuda_ipc

#else  // !PLEXUS_HAVE_CUDA

#include "base/error.hpp"

namespace plexus::transport::cuda_ipc {

struct MulticastGroup::State {};

MulticastSupport multicastSupport(int /*device*/) {
  return {false, "no multicast: Plexus was built without CUDA (PLEXUS_CUDA=OFF)"};
}

MulticastGroup MulticastGroup::create(std::map<int, FdChannel>& /*mesh*/, int selfRank,
                                      int /*device*/, size_t /*bytes*/, Deadline /*deadline*/,
                                      const std::atomic<bool>* /*abort*/) {
  throwError(ErrorCode::kInvalidUsage,
             "cuda-ipc: rank %d asked for a multicast group, but Plexus was built without CUDA "
             "(PLEXUS_CUDA=OFF); use a CUDA build",
             selfRank);
}

MulticastGroup::MulticastGroup() = default;
MulticastGroup::~MulticastGroup() = default;
MulticastGroup::MulticastGroup(MulticastGroup&&) noexcept = default;
MulticastGroup& MulticastGroup::operator=(MulticastGroup&&) noexcept = default;
void* MulticastGroup::unicast() const {
  return nullptr;
}
void* MulticastGroup::multicast() const {
  return nullptr;
}
size_t MulticastGroup::size() const {
  return 0;
}
int MulticastGroup::nranks() const {
  return 0;
}
int MulticastGroup::rank() const {
  return -1;
}
int MulticastGroup::device() const {
  return -1;
}

}  // namespace plexus::transport::cuda_ipc
#endif
