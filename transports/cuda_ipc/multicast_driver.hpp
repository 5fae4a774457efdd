// Internals of the multicast group shared by multicast_group.cpp (driver work) and
// multicast_setup.cpp (the protocol between the ranks). Only built with CUDA.
#pragma once

#if PLEXUS_HAVE_CUDA
#include <cuda.h>
#include <cudaTypedefs.h>

#include <cstddef>
#include <string>

#include "base/socket.hpp"
#include "transports/cuda_ipc/driver_api.hpp"
#include "transports/cuda_ipc/multicast_group.hpp"

namespace plexus::transport::cuda_ipc {

// The multicast entry points (CUDA 12.1 ABI), looked up once per process.
struct MulticastDriver {
  PFN_cuMulticastCreate_v12010 create = nullptr;
  PFN_cuMulticastAddDevice_v12010 addDevice = nullptr;
  PFN_cuMulticastBindMem_v12010 bindMem = nullptr;
  PFN_cuMulticastUnbind_v12010 unbind = nullptr;
  PFN_cuMulticastGetGranularity_v12010 granularity = nullptr;
};
// Throws Error(kSystem) naming the missing entry point and the driver it needs.
const MulticastDriver& multicastDriver();

struct MulticastGroup::State {
  int device = -1;  // this process's ordinal
  int rank = 0;     // index among the group's ranks
  int nranks = 1;
  size_t size = 0;
  CUdevice cuDevice = 0;
  CUmemGenericAllocationHandle mc = 0;   // the multicast object
  CUmemGenericAllocationHandle mem = 0;  // this GPU's allocation bound to it
  CUdeviceptr ucBase = 0, mcBase = 0;
  bool haveMc = false, haveMem = false, bound = false;
  bool ucReserved = false, ucMapped = false, mcReserved = false, mcMapped = false;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State();  // unmaps, unbinds, releases what was done
};

// "GPU 1 (NVIDIA H100 80GB HBM3, GPU-...)" for messages.
std::string multicastDeviceName(int device);
// `bytes` rounded up to the multicast and allocation granularities of `device`.
size_t multicastSizeFor(int nranks, size_t bytes, int device);
// The pieces of set-up, in order (each throws Error(kSystem) naming the driver call).
void createMulticastObject(MulticastGroup::State& s);  // root: s.size, s.nranks set
Fd exportMulticastObject(const MulticastGroup::State& s);
void importMulticastObject(MulticastGroup::State& s, const Fd& fd);
void addMulticastDevice(MulticastGroup::State& s);
void bindAndMapMulticast(MulticastGroup::State& s);  // after every rank's addMulticastDevice

}  // namespace plexus::transport::cuda_ipc
#endif
