// Driver entry points through cudaGetDriverEntryPointByVersion, once per process.
#include "transports/cuda_ipc/driver_api.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>

#include "base/error.hpp"

namespace plexus::transport::cuda_ipc {
namespace {

struct Loaded {
  DriverApi api;
  std::string error;  // empty when every symbol was found
};

// `version` is the CUDA version that introduced the ABI of the PFN type we call through.
template <typename Fn>
void lookUp(Fn& fn, const char* symbol, unsigned version, std::string& error) {
  void* p = nullptr;
  cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
  const cudaError_t rc =
      cudaGetDriverEntryPointByVersion(symbol, &p, version, cudaEnableDefault, &status);
  if (rc != cudaSuccess || status != cudaDriverEntryPointSuccess || p == nullptr) {
    if (error.empty())
      error = formatString(
          "the CUDA driver entry point %s (ABI %u) is not available (%s, query status %d); check "
          "that an NVIDIA driver is installed and new enough for CUDA %d.%d",
          symbol, version, cudaGetErrorString(rc), static_cast<int>(status), CUDART_VERSION / 1000,
          (CUDART_VERSION % 1000) / 10);
    return;
  }
  fn = reinterpret_cast<Fn>(p);
}

Loaded load() {
  Loaded l;
  DriverApi& a = l.api;
  std::string& e = l.error;
  lookUp(a.getErrorName, "cuGetErrorName", 6000, e);
  lookUp(a.getErrorString, "cuGetErrorString", 6000, e);
  lookUp(a.deviceGet, "cuDeviceGet", 2000, e);
  lookUp(a.deviceGetAttribute, "cuDeviceGetAttribute", 2000, e);
  lookUp(a.memCreate, "cuMemCreate", 10020, e);
  lookUp(a.memRelease, "cuMemRelease", 10020, e);
  lookUp(a.memAddressReserve, "cuMemAddressReserve", 10020, e);
  lookUp(a.memAddressFree, "cuMemAddressFree", 10020, e);
  lookUp(a.memMap, "cuMemMap", 10020, e);
  lookUp(a.memUnmap, "cuMemUnmap", 10020, e);
  lookUp(a.memSetAccess, "cuMemSetAccess", 10020, e);
  lookUp(a.memGetAllocationGranularity, "cuMemGetAllocationGranularity", 10020, e);
  lookUp(a.memExportToShareableHandle, "cuMemExportToShareableHandle", 10020, e);
  lookUp(a.memImportFromShareableHandle, "cuMemImportFromShareableHandle", 10020, e);
  lookUp(a.memRetainAllocationHandle, "cuMemRetainAllocationHandle", 11000, e);
  lookUp(a.memGetAddressRange, "cuMemGetAddressRange", 3020, e);
  return l;
}

}  // namespace

const DriverApi& driverApi() {
  static const Loaded loaded = load();
  if (!loaded.error.empty()) throwError(ErrorCode::kSystem, "cuda-ipc: %s", loaded.error.c_str());
  return loaded.api;
}

std::string cuErrorText(CUresult rc) {
  const char* name = nullptr;
  const char* text = nullptr;
  try {
    const DriverApi& a = driverApi();
    a.getErrorName(rc, &name);
    a.getErrorString(rc, &text);
  } catch (const Error&) {
  }
  return formatString("%s (%s)", name ? name : ("CUresult " + std::to_string(rc)).c_str(),
                      text ? text : "no description");
}

void checkCu(CUresult rc, const std::string& what) {
  if (rc != CUDA_SUCCESS)
    throwError(ErrorCode::kSystem, "cuda-ipc: %s failed: %s", what.c_str(),
               cuErrorText(rc).c_str());
}

void checkCudart(int rc, const std::string& what) {
  if (rc != cudaSuccess)
    throwError(ErrorCode::kSystem, "cuda-ipc: %s failed: %s (%s)", what.c_str(),
               cudaGetErrorName(static_cast<cudaError_t>(rc)),
               cudaGetErrorString(static_cast<cudaError_t>(rc)));
}

int deviceAttribute(CUdevice_attribute attribute, int device) {
  const DriverApi& d = driverApi();
  CUdevice dev = 0;  // the driver's handle of the ordinal (CUmemLocation takes the ordinal itself)
  int value = 0;
  if (d.deviceGet(&dev, device) != CUDA_SUCCESS) return 0;
  if (d.deviceGetAttribute(&value, attribute, dev) != CUDA_SUCCESS) return 0;
  return value;
}

void deviceUuid(int device, uint8_t out[16]) {
  cudaDeviceProp prop{};
  checkCudart(cudaGetDeviceProperties(&prop, device),
              formatString("cudaGetDeviceProperties(device %d)", device));
  std::memcpy(out, prop.uuid.bytes, 16);
}

std::string uuidText(const uint8_t u[16]) {
  char buf[64];
  std::snprintf(buf, sizeof(buf),
                "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                u[14], u[15]);
  return buf;
}

int deviceWithUuid(const uint8_t uuid[16]) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return -1;
  for (int d = 0; d < count; ++d) {
    uint8_t u[16];
    try {
      deviceUuid(d, u);
    } catch (const Error&) {
      continue;
    }
    if (std::memcmp(u, uuid, 16) == 0) return d;
  }
  return -1;
}

DeviceGuard::DeviceGuard(int device, const char* who) {
  int count = 0;
  const cudaError_t rc = cudaGetDeviceCount(&count);
  if (rc != cudaSuccess || count == 0)
    throwError(ErrorCode::kInvalidUsage,
               "cuda-ipc: %s needs a CUDA device and this process sees none (%s); check the "
               "driver (nvidia-smi) and CUDA_VISIBLE_DEVICES",
               who, rc != cudaSuccess ? cudaGetErrorString(rc) : "device count 0");
  if (device < 0 || device >= count)
    throwError(ErrorCode::kInvalidArgument,
               "cuda-ipc: %s asked for device %d, but this process sees devices 0..%d; check "
               "CUDA_VISIBLE_DEVICES and the rank's device choice",
               who, device, count - 1);
  checkCudart(cudaGetDevice(&previous_), "cudaGetDevice");
  checkCudart(cudaSetDevice(device), formatString("cudaSetDevice(%d)", device));
  checkCudart(cudaFree(nullptr), formatString("creating the context of device %d", device));
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) cudaSetDevice(previous_);
}

}  // namespace plexus::transport::cuda_ipc
#endif
