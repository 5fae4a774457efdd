// The CUDA driver entry points the cuda-ipc transport uses, looked up at run time through the
// runtime's cudaGetDriverEntryPointByVersion (libcuda is never linked: libplexus loads and runs
// host collectives where there is no driver). Only built with CUDA; include it from .cpp files
// under `#if PLEXUS_HAVE_CUDA`.
#pragma once

#if PLEXUS_HAVE_CUDA
#include <cuda.h>
#include <cudaTypedefs.h>

#include <cstdint>
#include <string>

namespace plexus::transport::cuda_ipc {

struct DriverApi {
  PFN_cuGetErrorName_v6000 getErrorName = nullptr;
  PFN_cuGetErrorString_v6000 getErrorString = nullptr;
  PFN_cuDeviceGet_v2000 deviceGet = nullptr;
  PFN_cuDeviceGetAttribute_v2000 deviceGetAttribute = nullptr;
  PFN_cuMemCreate_v10020 memCreate = nullptr;
  PFN_cuMemRelease_v10020 memRelease = nullptr;
  PFN_cuMemAddressReserve_v10020 memAddressReserve = nullptr;
  PFN_cuMemAddressFree_v10020 memAddressFree = nullptr;
  PFN_cuMemMap_v10020 memMap = nullptr;
  PFN_cuMemUnmap_v10020 memUnmap = nullptr;
  PFN_cuMemSetAccess_v10020 memSetAccess = nullptr;
  PFN_cuMemGetAllocationGranularity_v10020 memGetAllocationGranularity = nullptr;
  PFN_cuMemExportToShareableHandle_v10020 memExportToShareableHandle = nullptr;
  PFN_cuMemImportFromShareableHandle_v10020 memImportFromShareableHandle = nullptr;
  PFN_cuMemRetainAllocationHandle_v11000 memRetainAllocationHandle = nullptr;
  PFN_cuMemGetAddressRange_v3020 memGetAddressRange = nullptr;
};

// The entry points, looked up once per process. Throws Error(kSystem) saying which symbol is
// missing and why (no driver, a driver older than the runtime needs).
const DriverApi& driverApi();

// "CUDA_ERROR_INVALID_VALUE (invalid argument)" for messages.
std::string cuErrorText(CUresult rc);

// Throws Error(kSystem) with `what` and the driver's error text when rc is not CUDA_SUCCESS.
void checkCu(CUresult rc, const std::string& what);
// The same for a runtime call.
void checkCudart(int rc, const std::string& what);

// A device attribute of ordinal `device`; 0 when the query fails.
int deviceAttribute(CUdevice_attribute attribute, int device);
// The UUID of ordinal `device` (16 bytes); throws Error(kSystem) naming the device.
void deviceUuid(int device, uint8_t out[16]);
// "GPU-1b2c...-..." as nvidia-smi -L prints it.
std::string uuidText(const uint8_t uuid[16]);
// This process's ordinal of the GPU with this UUID, or -1 when it is not visible here.
int deviceWithUuid(const uint8_t uuid[16]);

// Makes `device` current (and its primary context active) for a scope; restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device, const char* who);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace plexus::transport::cuda_ipc
#endif
