// NVLink SHARP multicast memory for the local ranks of one host (the nvls device executor's
// memory): one multicast object spanning one GPU per rank, each GPU's own cuMem allocation bound
// to it, mapped twice in every rank: the unicast address (this GPU's memory, ordinary loads and
// stores) and the multicast address (multimem.ld_reduce / multimem.st / multimem.red reach every
// bound GPU; nothing else may touch it).
//
// Set-up (create(), collective over the fd mesh of the local ranks, every step bounded by the
// deadline and abortable, a failure on any rank reported to all):
//   1. every rank sends the lowest rank (the root) its GPU's UUID and whether the GPU supports
//      multicast (CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED) and POSIX-fd handles;
//   2. the root refuses, naming the rank and GPU, when one does not, or when two ranks share a GPU
//      (a multicast object binds one allocation per device: several ranks on one GPU cannot use
//      it; such runs use the generic device executor). Otherwise it creates the object
//      (cuMulticastCreate, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, the size rounded up to
//      cuMulticastGetGranularity's recommended granularity) and sends its fd to every rank;
//   3. every rank imports the fd and adds its GPU (cuMulticastAddDevice); all ranks meet (the
//      driver wants every device added before any memory is bound);
//   4. every rank creates its allocation (cuMemCreate), maps it (unicast), zeroes it, binds it
//      (cuMulticastBindMem), maps the multicast object (cuMemAddressReserve / cuMemMap /
//      cuMemSetAccess); all ranks meet again, so no rank's kernel reaches a GPU not yet bound.
// The destructor unmaps both addresses, unbinds and releases the handles. Destroy the group only
// after every rank's last kernel over it has finished (meet first).
//
// Driver calls go through entry points looked up at run time (CUDA 12.1 driver or newer); nothing
// links libcuda. Built without CUDA the type exists, multicastSupport() says why not, create()
// throws Error(kInvalidUsage). Compiled only: no run on an NVSwitch system yet (docs/gpu.md).
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "base/deadline.hpp"
#include "transports/cuda_ipc/fd_channel.hpp"

namespace plexus::transport::cuda_ipc {

struct MulticastSupport {
  bool supported = false;
  std::string why;  // empty when supported; otherwise names the device and the reason
};

// Whether GPU `device` (an ordinal of this process) can join a multicast group. Never throws.
MulticastSupport multicastSupport(int device);

class MulticastGroup {
 public:
  MulticastGroup();
  ~MulticastGroup();
  MulticastGroup(MulticastGroup&&) noexcept;
  MulticastGroup& operator=(MulticastGroup&&) noexcept;
  MulticastGroup(const MulticastGroup&) = delete;
  MulticastGroup& operator=(const MulticastGroup&) = delete;

  // Collective: every rank in `mesh` (by rank, from connectFdMesh) and `selfRank` call it with
  // the same `bytes`. `device` is this rank's GPU ordinal. Throws Error(kInvalidUsage) when
  // multicast cannot serve these ranks (the message names the rank and GPU: fall back to the
  // generic device executor), Error(kRemote) naming a peer that failed or went silent,
  // Error(kSystem) naming the driver call that failed.
  static MulticastGroup create(std::map<int, FdChannel>& mesh, int selfRank, int device,
                               size_t bytes, Deadline deadline,
                               const std::atomic<bool>* abort = nullptr);

  void* unicast() const;    // this GPU's bound memory
  void* multicast() const;  // the multicast address of the same bytes
  size_t size() const;      // bound bytes (the request rounded up to the granularity)
  int nranks() const;
  int rank() const;  // this rank's index among the group's ranks (0 = the root)
  int device() const;
  bool valid() const { return state_ != nullptr; }

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// Tags of the set-up messages on the fd channels.
constexpr uint32_t kMulticastHelloTag = 0x4d434831;   // "MCH1": UUID and support, to the root
constexpr uint32_t kMulticastHandleTag = 0x4d434631;  // "MCF1": the object's fd, or a refusal
constexpr uint32_t kMulticastUpTag = 0x4d435531;      // "MCU1": a rank reached a meeting point
constexpr uint32_t kMulticastDownTag = 0x4d434431;    // "MCD1": the root releases the meeting

}  // namespace plexus::transport::cuda_ipc
