// The device executor of the nvls all-reduce (only with PLEXUS_HAVE_CUDA): NVLink SHARP over a
// multicast group (transports/cuda_ipc/multicast_group.hpp) instead of the step interpreter's
// FIFOs. One block per plan channel; per chunk of the message (the data area of the group's
// memory, nvls_share.hpp):
//   1. every rank's block c copies channel c's vectors of its input into its own (unicast)
//      memory; barrier;
//   2. it reduces its share of them (nvlsShare: rank j's even part of the channel's vectors) with
//      multimem.ld_reduce over the multicast address and stores the sums to every GPU with
//      multimem.st; barrier;
//   3. it copies channel c's vectors back out to the output (avg: divided by the rank count).
// The barrier of channel c: thread 0 adds 1 to the channel's counter on every GPU
// (multimem.red.release.sys after a system fence), then polls its own GPU's counter (acquire at
// system scope) until every rank has added; each rank keeps its count of barriers passed in its
// unicast flag slot, so counters persist across calls (a call that failed leaves them out of step:
// rebuild the group). Every wait ends on progress, the abort flag, or after timeoutCycles.
//
// f32 / f16 / bf16 sum and avg only (nvlsSupports); the switch's sums are not bit-equal to the
// host's rank-order reductions (f16/bf16 accumulate in f32). Needs sm_90 or newer and the memory
// bound to a multicast object on every rank's GPU (one GPU per rank). Compiled here for
// sm_80/90/100 (multimem only in the sm_90+ code); NOT yet run on an NVSwitch system.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "engine/cuda/nvls_call.hpp"
#include "engine/cuda/nvls_share.hpp"
#include "engine/exec/exec_plan.hpp"

namespace plexus::engine::cuda {

// A multicast group's memory (MulticastGroup::unicast(), multicast(), size()). Use the same
// nchannels for every call over one group.
struct NvlsMemory {
  unsigned char* unicast = nullptr;
  unsigned char* multicast = nullptr;
  uint64_t bytes = 0;
};

struct NvlsLaunch {
  const volatile int* abort = nullptr;   // device address of a host-mapped flag (optional)
  exec::ExecStatus* status = nullptr;    // call.nchannels entries of device memory (optional)
  unsigned long long timeoutCycles = 0;  // 0: about 30 s at 2 GHz
  int threadsPerBlock = 512;
};

// Why this call cannot run on the current device over `memory` ("" when it can): type or op
// unsupported, a device older than sm_90, memory too small, bad ranks or channels.
std::string nvlsLaunchProblem(const NvlsCall& call, const NvlsMemory& memory);

// Enqueues the call on `stream` (of the group's GPU, which must be the current device) and returns
// at once; every rank of the group must launch the same call (same count, type, op, channels).
// Throws Error(kInvalidUsage) with nvlsLaunchProblem's reason, Error(kSystem) naming a launch
// error.
void launchNvlsAllReduce(const NvlsCall& call, const NvlsMemory& memory, const NvlsLaunch& launch,
                         cudaStream_t stream);

}  // namespace plexus::engine::cuda
