// Single copy: reduce-scatter and all-gather (runtime/single_copy.hpp). Two phases each (g = 3c):
//   post     as for all-reduce: the call's buffer addresses, then phase g; wait for g.
//   reduce-scatter: output = this rank's block of every rank's input, reduced (the peers' blocks
//            read with process_vm_readv in chunks); all-gather: every peer's input read straight
//            into its block of this output, this rank's copied (unless in place).
//   done     write g + 1, wait for g + 1: no peer still reads this rank's input.
#include <cstring>

#include "base/error.hpp"
#include "kernels/datatype.hpp"
#include "runtime/single_copy.hpp"

namespace plexus::runtime {

void SingleCopy::runReduceScatter(const void* input, void* output, size_t count, DataType type,
                                  RedOp op) {
  const uint64_t g = 3 * ++calls_;
  const Posted mine{reinterpret_cast<uint64_t>(input), reinterpret_cast<uint64_t>(output), {}, {}};
  post(g, mine);
  waitAll(g, "its buffer addresses (it has not entered this reduce-scatter)");
  reduceSlice(input, output, static_cast<size_t>(setup_.rank) * count, 0, count, type, op);
  signal(g + 1);
  waitAll(g + 1, "the end of its reads of this rank's input");
}

void SingleCopy::runAllGather(const void* input, void* output, size_t count, DataType type) {
  const uint64_t g = 3 * ++calls_;
  const Posted mine{reinterpret_cast<uint64_t>(input), reinterpret_cast<uint64_t>(output), {}, {}};
  post(g, mine);
  waitAll(g, "its buffer addresses (it has not entered this all-gather)");
  const size_t bytes = count * dataTypeSize(type);
  auto* out = static_cast<std::byte*>(output);
  for (int p = 0; p < setup_.nranks; ++p) {
    if (p == setup_.rank) continue;
    readPeer(p, out + static_cast<size_t>(p) * bytes, words_[static_cast<size_t>(p)].posted.input,
             bytes, "its input");
  }
  std::byte* own = out + static_cast<size_t>(setup_.rank) * bytes;
  if (own != input) std::memcpy(own, input, bytes);
  signal(g + 1);
  waitAll(g + 1, "the end of its reads of this rank's input");
}

}  // namespace plexus::runtime
