// Single copy: one all-reduce (runtime/single_copy.hpp). Phases of call c (g = 3c):
//   post     write {input, output} then phase g into every peer's control word for this rank;
//            wait until every peer's word here reads >= g (its buffers are ready).
//   reduce   this rank's slice: for each chunk, output = input (op) each peer's input, the peers'
//            read with process_vm_readv into scratch; write g + 1, wait for g + 1.
//   gather   read every peer's slice of its output straight into this output; write g + 2, wait
//            for g + 2 (no peer still reads this rank's buffers when the call returns).
#include <sched.h>
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <thread>

#include "base/error.hpp"
#include "kernels/datatype.hpp"
#include "kernels/reduce.hpp"
#include "runtime/single_copy.hpp"

namespace plexus::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// [begin, end) in elements of the slice rank r owns (the first count % n ranks own one more).
std::pair<size_t, size_t> sliceOf(size_t count, int n, int r) {
  const size_t per = count / static_cast<size_t>(n), extra = count % static_cast<size_t>(n);
  const auto ur = static_cast<size_t>(r);
  const size_t b = ur * per + std::min(ur, extra);
  return {b, b + per + (ur < extra ? 1 : 0)};
}

std::string hint(int err) {
  if (err == ESRCH) return ": the peer process has exited (check its log for why)";
  if (err == EPERM || err == EACCES)
    return ": permission lost (check kernel.yama.ptrace_scope and the container's seccomp "
           "profile; PLEXUS_SINGLE_COPY=0 turns single copy off)";
  if (err == EFAULT) return ": the peer's buffer is not mapped (check the buffers and counts)";
  return "";
}

}  // namespace

void SingleCopy::readPeer(int peer, void* dst, uint64_t src, size_t bytes, const char* what) const {
  const pid_t pid = setup_.pids[static_cast<size_t>(peer)];
  auto* d = static_cast<std::byte*>(dst);
  while (bytes > 0) {
    iovec local{d, bytes};
    iovec remote{reinterpret_cast<void*>(src), bytes};
    const ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (got <= 0) {
      const int err = got < 0 ? errno : EFAULT;
      throw Error(ErrorCode::kRemote, where(peer) + ": process_vm_readv of " + what +
                                          " failed: " + std::strerror(err) + hint(err));
    }
    d += got;
    src += static_cast<uint64_t>(got);
    bytes -= static_cast<size_t>(got);
  }
}

void SingleCopy::writePeer(int peer, uint64_t dst, const void* src, size_t bytes,
                           const char* what) const {
  const pid_t pid = setup_.pids[static_cast<size_t>(peer)];
  iovec local{const_cast<void*>(src), bytes};
  iovec remote{reinterpret_cast<void*>(dst), bytes};
  const ssize_t put = process_vm_writev(pid, &local, 1, &remote, 1, 0);
  if (put != static_cast<ssize_t>(bytes)) {
    const int err = put < 0 ? errno : EFAULT;
    throw Error(ErrorCode::kRemote, where(peer) + ": process_vm_writev of " + what +
                                        " failed: " + std::strerror(err) + hint(err));
  }
}

uint64_t SingleCopy::peerWord(int peer) const {
  return peerBlocks_[static_cast<size_t>(peer)] + static_cast<uint64_t>(setup_.rank) * sizeof(Word);
}

void SingleCopy::post(uint64_t phase, const Posted& mine) {
  for (int p = 0; p < setup_.nranks; ++p) {
    if (p == setup_.rank) continue;
    // Two writes, in order: the peer may act on the phase as soon as it lands.
    writePeer(p, peerWord(p) + offsetof(Word, posted), &mine, sizeof(mine),
              "this call's buffer addresses");
    writePeer(p, peerWord(p) + offsetof(Word, phase), &phase, sizeof(phase), "a phase word");
  }
}

void SingleCopy::signal(uint64_t phase) {
  for (int p = 0; p < setup_.nranks; ++p)
    if (p != setup_.rank)
      writePeer(p, peerWord(p) + offsetof(Word, phase), &phase, sizeof(phase), "a phase word");
}

void SingleCopy::checkAlive(int peer) const {
  uint64_t word = 0;
  readPeer(peer, &word, peerBlocks_[static_cast<size_t>(peer)], sizeof(word),
           "its control block (is it alive?)");
}

// A peer's failure notice ends the wait at once (that peer may be alive but out of the call).
void SingleCopy::checkNotices(const char* forWhat) const {
  for (int p = 0; p < setup_.nranks; ++p)
    if (p != setup_.rank &&
        words_[static_cast<size_t>(p)].blame.load(std::memory_order_acquire) >= 0)
      throw Error(ErrorCode::kRemote,
                  where(p) + ": it failed while this rank waited for " + forWhat);
}

void SingleCopy::checkWait(int peer, Clock::time_point since, const char* forWhat) {
  if (setup_.abort != nullptr && setup_.abort->load(std::memory_order_relaxed))
    throw Error(ErrorCode::kRemote,
                where(peer) + ": the communicator was aborted while waiting for " + forWhat);
  checkNotices(forWhat);
  checkAlive(peer);
  if (setup_.pollPeers) setup_.pollPeers();
  if (Clock::now() - since > setup_.timeout)
    throw Error(ErrorCode::kRemote,
                where(peer) + ": timed out after " + std::to_string(setup_.timeout.count()) +
                    " ms waiting for " + forWhat +
                    " (check that rank is alive and makes the same calls; PLEXUS_TIMEOUT)");
}

void SingleCopy::waitAll(uint64_t phase, const char* forWhat) {
  const auto start = Clock::now();
  auto nextCheck = start + std::chrono::milliseconds(1);
  for (int p = 0; p < setup_.nranks; ++p) {
    if (p == setup_.rank) continue;
    uint32_t spins = 0;
    while (words_[static_cast<size_t>(p)].phase.load(std::memory_order_acquire) < phase) {
      if (++spins < 64) {
        sched_yield();
        continue;
      }
      const auto now = Clock::now();
      if (now >= nextCheck) {
        checkWait(p, start, forWhat);
        nextCheck = now + std::chrono::milliseconds(1);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
}

void SingleCopy::reduceSlice(const void* input, void* output, size_t inBegin, size_t outBegin,
                             size_t n, DataType type, RedOp op) {
  const size_t esz = dataTypeSize(type);
  const size_t chunk = scratch_.size() / esz;
  const auto* in = static_cast<const std::byte*>(input) + inBegin * esz;
  auto* out = static_cast<std::byte*>(output) + outBegin * esz;
  for (size_t off = 0; off < n; off += chunk) {
    const size_t m = std::min(chunk, n - off);
    const std::byte* acc = in + off * esz;
    for (int p = 0; p < setup_.nranks; ++p) {
      if (p == setup_.rank) continue;
      readPeer(p, scratch_.data(),
               words_[static_cast<size_t>(p)].posted.input + (inBegin + off) * esz, m * esz,
               "its input");
      reduceBuffers(type, op, out + off * esz, acc, scratch_.data(), m);
      acc = out + off * esz;
    }
    if (op == RedOp::kAvg)
      finalizeAverage(type, out + off * esz, out + off * esz, m, setup_.nranks);
  }
}

void SingleCopy::call(algo::Collective c, const void* input, void* output, size_t count,
                      DataType type, RedOp op) {
  try {
    if (c == algo::Collective::kReduceScatter)
      runReduceScatter(input, output, count, type, op);
    else if (c == algo::Collective::kAllGather)
      runAllGather(input, output, count, type);
    else
      run(input, output, count, type, op);
  } catch (const Error& e) {
    throw Error(e.code(), blame(e.what()));
  }
}

std::string SingleCopy::blame(const std::string& what) {
  int notice = -1, from = -1;
  for (int p = 0; p < setup_.nranks && notice < 0; ++p) {
    const int64_t b = words_[static_cast<size_t>(p)].blame.load(std::memory_order_acquire);
    if (p != setup_.rank && b >= 0 && b < setup_.nranks && b != setup_.rank) {
      notice = static_cast<int>(b);
      from = p;
    }
  }
  const int culprit = notice >= 0 ? notice : culprit_;
  const int64_t word = culprit;
  for (int p = 0; p < setup_.nranks && culprit >= 0; ++p) {
    if (p == setup_.rank || p == culprit) continue;
    try {
      writePeer(p, peerWord(p) + offsetof(Word, blame), &word, sizeof(word), "a failure notice");
    } catch (const Error&) {
      // That peer is gone too: it learns nothing more.
    }
  }
  if (notice < 0) return what;
  return where(notice) + " failed or exited: rank " + std::to_string(from) +
         " found it first and said so (here: " + what + ")";
}

void SingleCopy::run(const void* input, void* output, size_t count, DataType type, RedOp op) {
  const uint64_t g = 3 * ++calls_;
  const size_t bytes = count * dataTypeSize(type);
  const Posted mine{reinterpret_cast<uint64_t>(input), reinterpret_cast<uint64_t>(output),
                    regionOf(input, bytes), regionOf(output, bytes)};
  post(g, mine);
  waitAll(g, "its buffer addresses (it has not entered this all-reduce)");
  if (allShared(mine)) return runMapped(input, output, count, type, op, g);
  const auto [b, e] = sliceOf(count, setup_.nranks, setup_.rank);
  reduceSlice(input, output, b, b, e - b, type, op);
  signal(g + 1);
  waitAll(g + 1, "its reduced slice");
  const size_t esz = dataTypeSize(type);
  for (int p = 0; p < setup_.nranks; ++p) {
    if (p == setup_.rank) continue;
    const auto [pb, pe] = sliceOf(count, setup_.nranks, p);
    if (pe > pb)
      readPeer(p, static_cast<std::byte*>(output) + pb * esz,
               words_[static_cast<size_t>(p)].posted.output + pb * esz, (pe - pb) * esz,
               "its reduced slice");
  }
  signal(g + 2);
  waitAll(g + 2, "the end of its reads of this rank's output");
}

}  // namespace plexus::runtime
