// What the nvls device executor (nvls_executor.hpp) decides without a GPU, host C++ and CUDA
// device code alike, so that tests run it here:
//   - nvlsSupports(type, op): the in-switch reduction adds f32, f16 and bf16 (sum; avg = sum then
//     a division by the rank count). Every other type or operation runs on the generic device
//     executor (device_executor.hpp) over the same plan.
//   - the layout of the memory bound to the multicast object: a flag area (one 64-byte slot per
//     channel: the barrier counter every rank's block adds to through the multicast address, and
//     this rank's own count of barriers passed, touched only through its unicast address), then
//     the data area that chunks of the message pass through.
//   - the share partition: a chunk of `bytes` is cut into 16-byte vectors (multimem moves 16 bytes
//     at a time); channel c owns the even part c of the vectors, and inside it rank j the even
//     part j: the nvls plan's block ownership (algorithms/direct.cpp: block j of each channel's
//     part belongs to rank j) at 16-byte granularity. Every vector belongs to exactly one
//     (channel, rank); the last vector may run past `bytes` (the data area is padded to 16 bytes
//     and the executor never copies the padding out).
#pragma once

#include <cstdint>

#include "kernels/host_device.hpp"  // PLEXUS_HD
#include "plexus/types.hpp"

namespace plexus::engine::cuda {

constexpr uint64_t kNvlsVectorBytes = 16;       // one multimem.ld_reduce / multimem.st
constexpr uint64_t kNvlsChannelFlagBytes = 64;  // flag slot of one channel
constexpr uint64_t kNvlsFlagAlign = 256;        // the data area starts at a multiple of this

// True when the multicast path reduces (type, op); otherwise the caller runs the plan on the
// generic device executor.
PLEXUS_HD constexpr bool nvlsSupports(DataType type, RedOp op) {
  const bool typeOk =
      type == DataType::kFloat32 || type == DataType::kFloat16 || type == DataType::kBfloat16;
  return typeOk && (op == RedOp::kSum || op == RedOp::kAvg);
}

// Bytes of one element of a type nvlsSupports (f32: 4, f16 / bf16: 2); 0 for any other type.
PLEXUS_HD constexpr uint64_t nvlsElementBytes(DataType type) {
  return type == DataType::kFloat32                                  ? 4
         : type == DataType::kFloat16 || type == DataType::kBfloat16 ? 2
                                                                     : 0;
}

// Offset of the data area in the bound memory for `nchannels` channels.
PLEXUS_HD constexpr uint64_t nvlsDataOffset(int nchannels) {
  const uint64_t flags = static_cast<uint64_t>(nchannels) * kNvlsChannelFlagBytes;
  return (flags + kNvlsFlagAlign - 1) / kNvlsFlagAlign * kNvlsFlagAlign;
}

// Bytes of the data area (a multiple of 16) in bound memory of `boundBytes`; 0 when too small.
PLEXUS_HD constexpr uint64_t nvlsDataCapacity(uint64_t boundBytes, int nchannels) {
  const uint64_t at = nvlsDataOffset(nchannels);
  return boundBytes <= at ? 0 : (boundBytes - at) / kNvlsVectorBytes * kNvlsVectorBytes;
}

// A run of 16-byte vectors: [first, first + count).
struct NvlsRange {
  uint64_t first = 0;
  uint64_t count = 0;
};

// Part i of k of [0, len), the first len % k parts one larger (algo::evenPart's rule).
PLEXUS_HD constexpr NvlsRange nvlsEvenPart(uint64_t len, uint64_t i, uint64_t k) {
  const uint64_t base = len / k;
  const uint64_t extra = len % k;
  return NvlsRange{i * base + (i < extra ? i : extra), base + (i < extra ? 1 : 0)};
}

// Vectors of a chunk of `bytes` bytes (the last one partly padding).
PLEXUS_HD constexpr uint64_t nvlsVectors(uint64_t bytes) {
  return (bytes + kNvlsVectorBytes - 1) / kNvlsVectorBytes;
}

// The vectors channel `channel` of `nchannels` owns in a chunk of `bytes` bytes (every rank's
// block of that channel copies them in and out).
PLEXUS_HD constexpr NvlsRange nvlsChannelRange(uint64_t bytes, int channel, int nchannels) {
  return nvlsEvenPart(nvlsVectors(bytes), static_cast<uint64_t>(channel),
                      static_cast<uint64_t>(nchannels));
}

// The vectors rank `rank` of `nranks` reduces (multimem.ld_reduce) and multicasts (multimem.st)
// for channel `channel`: its even part of the channel's range.
PLEXUS_HD constexpr NvlsRange nvlsShare(uint64_t bytes, int channel, int nchannels, int rank,
                                        int nranks) {
  const NvlsRange c = nvlsChannelRange(bytes, channel, nchannels);
  const NvlsRange r =
      nvlsEvenPart(c.count, static_cast<uint64_t>(rank), static_cast<uint64_t>(nranks));
  return NvlsRange{c.first + r.first, r.count};
}

// The bytes [begin, end) of a chunk of `bytes` that channel `channel` copies in and out: its
// vectors, the last one cut at the chunk's end (begin == end when it has none).
struct NvlsBytes {
  uint64_t begin = 0;
  uint64_t end = 0;
};
PLEXUS_HD constexpr NvlsBytes nvlsChannelBytes(uint64_t bytes, int channel, int nchannels) {
  const NvlsRange c = nvlsChannelRange(bytes, channel, nchannels);
  const uint64_t begin = c.first * kNvlsVectorBytes;
  const uint64_t end = begin + c.count * kNvlsVectorBytes;
  // A channel without vectors (more channels than vectors) may start past the chunk's end.
  return begin >= bytes ? NvlsBytes{bytes, bytes} : NvlsBytes{begin, end < bytes ? end : bytes};
}

// Bytes of one chunk: the data area's capacity, or what is left of the message.
PLEXUS_HD constexpr uint64_t nvlsChunkBytes(uint64_t totalBytes, uint64_t done, uint64_t capacity) {
  const uint64_t left = totalBytes - done;
  return left < capacity ? left : capacity;
}

}  // namespace plexus::engine::cuda
