// Zero copy (runtime/single_copy.hpp): when every rank's input and output of a call lie in shared
// allocations (ncclMemAlloc, runtime/shared_alloc.hpp), each rank maps its peers' allocations
// once (through /proc/<pid>/fd/<fd>, read and write), reduces its slice straight from their
// inputs into its output a chunk at a time, and copies each reduced chunk, still in its cache,
// into every peer's output: one pass over memory, where reading the peers' slices back from
// their outputs after a barrier read every result from memory once more (docs/performance.md,
// "Zero copy in one pass"). Every rank sees every rank's post, so all choose this path alike.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.hpp"
#include "base/log.hpp"
#include "kernels/datatype.hpp"
#include "kernels/reduce.hpp"
#include "kernels/stream_copy.hpp"
#include "runtime/shared_alloc.hpp"
#include "runtime/single_copy.hpp"

namespace plexus::runtime {
namespace {

constexpr size_t kChunkBytes = 256 << 10;  // reduce a slice this much at a time (n > 2 ranks)
constexpr size_t kMappingsPerPeer = 8;     // a peer's allocations kept mapped at most

std::pair<size_t, size_t> sliceOf(size_t count, int n, int r) {
  const size_t per = count / static_cast<size_t>(n), extra = count % static_cast<size_t>(n);
  const auto ur = static_cast<size_t>(r);
  const size_t b = ur * per + std::min(ur, extra);
  return {b, b + per + (ur < extra ? 1 : 0)};
}

}  // namespace

void SingleCopy::Unmap::operator()(std::byte* p) const {
  munmap(p, size);
}

SingleCopy::RegionRef SingleCopy::regionOf(const void* p, size_t bytes) {
  RegionRef r;
  auto s = sharedRegionOf(p, bytes);
  if (!s) return r;
  r.fd = s->fd;
  r.id = s->id;
  r.size = s->size;
  r.offset = static_cast<uint64_t>(static_cast<const std::byte*>(p) - s->base);
  return r;
}

bool SingleCopy::allShared(const Posted& mine) const {
  if (mine.in.fd < 0 || mine.out.fd < 0) return false;
  for (int p = 0; p < setup_.nranks; ++p) {
    if (p == setup_.rank) continue;
    const Posted& theirs = words_[static_cast<size_t>(p)].posted;
    if (theirs.in.fd < 0 || theirs.out.fd < 0) return false;
  }
  return true;
}

std::byte* SingleCopy::mapped(int peer, const RegionRef& r) {
  const auto key = std::make_pair(peer, r.id);
  auto it = mappings_.find(key);
  if (it != mappings_.end()) return it->second.get();
  size_t held = 0;
  for (const auto& [k, m] : mappings_) held += k.first == peer ? 1 : 0;
  if (held >= kMappingsPerPeer)  // forget this peer's older allocations (they may be freed)
    std::erase_if(mappings_, [&](const auto& e) { return e.first.first == peer; });
  const std::string path = "/proc/" + std::to_string(setup_.pids[static_cast<size_t>(peer)]) +
                           "/fd/" + std::to_string(r.fd);
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(ErrorCode::kRemote, where(peer) + ": cannot open " + path +
                                        " to map its ncclMemAlloc buffer: " + std::strerror(err) +
                                        " (check ptrace permissions; PLEXUS_SINGLE_COPY=0)");
  }
  void* p = mmap(nullptr, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  close(fd);
  if (p == MAP_FAILED)
    throw Error(ErrorCode::kSystem, where(peer) + ": cannot map " + std::to_string(r.size) +
                                        " bytes of its ncclMemAlloc buffer: " + std::strerror(err));
  auto& m = mappings_[key];
  m = Mapping(static_cast<std::byte*>(p), Unmap{r.size});
  return m.get();
}

void SingleCopy::runMapped(const void* input, void* output, size_t count, DataType type, RedOp op,
                           uint64_t phase) {
  if (!saidZeroCopy_)
    PLEXUS_INFO(subsys::kColl,
                "%s: zero copy: every rank's buffers come from ncclMemAlloc (mapped from the "
                "peers; said once)",
                setup_.context.c_str());
  saidZeroCopy_ = true;
  const size_t esz = dataTypeSize(type);
  const int n = setup_.nranks;
  std::vector<const std::byte*> ins(static_cast<size_t>(n));
  std::vector<std::byte*> outs(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    if (p == setup_.rank) continue;
    const Posted& t = words_[static_cast<size_t>(p)].posted;
    ins[static_cast<size_t>(p)] = mapped(p, t.in) + t.in.offset;
    outs[static_cast<size_t>(p)] = mapped(p, t.out) + t.out.offset;
  }
  const auto [b, e] = sliceOf(count, n, setup_.rank);
  const auto* in = static_cast<const std::byte*>(input);
  auto* out = static_cast<std::byte*>(output);
  // The copies into the peers' outputs bypass the cache where the engine's results would (out of
  // place only: in place, every line copied into was just read, so it is in the cache already).
  const bool inPlace = input == output;
  const bool streams = !inPlace && setup_.streams && setup_.streams(count * esz, false);
  const size_t chunk = kChunkBytes / esz;
  for (size_t off = b; off < e; off += chunk) {
    const size_t m = std::min(chunk, e - off);
    std::byte* reduced = out + off * esz;
    const std::byte* acc = in + off * esz;
    for (int p = 0; p < n; ++p) {
      if (p == setup_.rank) continue;
      reduceBuffers(type, op, reduced, acc, ins[static_cast<size_t>(p)] + off * esz, m);
      acc = reduced;
    }
    if (op == RedOp::kAvg) finalizeAverage(type, reduced, reduced, m, n);
    for (int p = 0; p < n; ++p) {
      if (p == setup_.rank) continue;
      std::byte* to = outs[static_cast<size_t>(p)] + off * esz;
      if (streams)
        streamCopy(to, reduced, m * esz);
      else
        std::memcpy(to, reduced, m * esz);
    }
  }
  // Every peer has read this rank's input and written its slices into this rank's output.
  signal(phase + 1);
  waitAll(phase + 1, "its reduced slice");
  // The third phase of a call (single copy's own copies) has nothing left to wait for here; its
  // number is still taken, so that phases advance alike on both paths.
  signal(phase + 2);
}

}  // namespace plexus::runtime
