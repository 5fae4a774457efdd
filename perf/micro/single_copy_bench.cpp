// Micro-benchmark of single-copy all-reduce on one host (issue 16, item 1): two (or more) forked
// processes, fp32 sum, each rank owning 1/n of the buffer. It is a program, not a test, and it does
// not use the library's communicator; it times the data movement alone:
//   cma   : buffers are plain private memory. Each rank reads its peers' input slice for the part
//   it
//           owns with process_vm_readv, in cache-sized chunks into a small scratch, and reduces
//           into its output; barrier; each rank reads its peers' output slices straight into its
//           own output (process_vm_readv); barrier.
//   cma-push: as cma, but each reduced chunk, still in cache, is written straight into every
//           peer's output (process_vm_writev); one barrier.
//   memfd : buffers come from a memfd every process maps (what ncclMemAlloc could return):
//           reduce straight from the mapped peer inputs, copy straight from the mapped peer
//           outputs; the same two barriers.
// Barriers spin (with sched_yield) on counters in anonymous shared memory. Prints per size and
// variant the median, min and max of busbw (GB/s, 2(n-1)/n x bytes / time) over the repetitions.
//
//   perf_micro_single_copy [--ranks 2] [--reps 20] [--chunk 262144] [bytes ...]  (default 16M 64M)
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/reduce.hpp"
#include "kernels/stream_copy.hpp"

namespace {

constexpr int kMaxRanks = 8;

struct Shared {
  std::atomic<uint64_t> arrived[kMaxRanks];
  uintptr_t in[kMaxRanks];
  uintptr_t out[kMaxRanks];
  pid_t pid[kMaxRanks];
  double seconds[kMaxRanks][256];
};

struct Options {
  int ranks = 2;
  int reps = 20;
  size_t chunk = 256 << 10;
  std::vector<size_t> sizes;
};

void barrier(Shared& s, int rank, int n, uint64_t gen) {
  s.arrived[rank].store(gen, std::memory_order_release);
  for (int r = 0; r < n; ++r)
    while (s.arrived[r].load(std::memory_order_acquire) < gen) sched_yield();
}

void die(const char* what) {
  std::perror(what);
  std::_Exit(2);
}

// [begin, end) in elements of the slice rank r owns.
std::pair<size_t, size_t> slice(size_t count, int n, int r) {
  size_t per = count / n, extra = count % n;
  size_t b = r * per + std::min<size_t>(r, extra);
  return {b, b + per + (static_cast<size_t>(r) < extra ? 1 : 0)};
}

void readPeer(pid_t pid, void* dst, uintptr_t src, size_t bytes) {
  while (bytes > 0) {
    iovec l{dst, bytes}, rv{reinterpret_cast<void*>(src), bytes};
    ssize_t got = process_vm_readv(pid, &l, 1, &rv, 1, 0);
    if (got <= 0) die("process_vm_readv");
    dst = static_cast<char*>(dst) + got;
    src += static_cast<size_t>(got);
    bytes -= static_cast<size_t>(got);
  }
}

void writePeer(pid_t pid, uintptr_t dst, const void* src, size_t bytes) {
  while (bytes > 0) {
    iovec l{const_cast<void*>(src), bytes}, rv{reinterpret_cast<void*>(dst), bytes};
    ssize_t put = process_vm_writev(pid, &l, 1, &rv, 1, 0);
    if (put <= 0) die("process_vm_writev");
    src = static_cast<const char*>(src) + put;
    dst += static_cast<size_t>(put);
    bytes -= static_cast<size_t>(put);
  }
}

// pull: read peers' inputs, reduce, barrier, read peers' outputs, barrier (the brief's plan).
// push (cma-push): read peers' inputs, reduce, write the reduced chunk (still in cache) straight
// into every peer's output with process_vm_writev; one barrier.
void cmaAllReduce(Shared& s, int rank, int n, size_t count, float* in, float* out,
                  std::vector<float>& scratch, uint64_t& gen, bool push) {
  auto [b, e] = slice(count, n, rank);
  size_t chunk = scratch.size();
  for (size_t off = b; off < e; off += chunk) {
    size_t m = std::min(chunk, e - off);
    const float* acc = in + off;
    for (int p = 0; p < n; ++p) {
      if (p == rank) continue;
      readPeer(s.pid[p], scratch.data(), s.in[p] + off * sizeof(float), m * sizeof(float));
      plexus::reduceBuffers(plexus::DataType::kFloat32, plexus::RedOp::kSum, out + off, acc,
                            scratch.data(), m);
      acc = out + off;
    }
    if (push)
      for (int p = 0; p < n; ++p)
        if (p != rank) writePeer(s.pid[p], s.out[p] + off * sizeof(float), out + off, m * 4);
  }
  barrier(s, rank, n, ++gen);
  if (push) return;
  for (int p = 0; p < n; ++p) {
    if (p == rank) continue;
    auto [pb, pe] = slice(count, n, p);
    readPeer(s.pid[p], out + pb, s.out[p] + pb * sizeof(float), (pe - pb) * sizeof(float));
  }
  barrier(s, rank, n, ++gen);
}

void memfdAllReduce(Shared& s, int rank, int n, size_t count, float* out, uint64_t& gen) {
  auto [b, e] = slice(count, n, rank);
  const float* acc = reinterpret_cast<const float*>(s.in[rank]) + b;
  for (int p = 0; p < n; ++p) {
    if (p == rank) continue;
    plexus::reduceBuffers(plexus::DataType::kFloat32, plexus::RedOp::kSum, out + b, acc,
                          reinterpret_cast<const float*>(s.in[p]) + b, e - b);
    acc = out + b;
  }
  barrier(s, rank, n, ++gen);
  for (int p = 0; p < n; ++p) {
    if (p == rank) continue;
    auto [pb, pe] = slice(count, n, p);
    plexus::streamCopy(out + pb, reinterpret_cast<const float*>(s.out[p]) + pb,
                       (pe - pb) * sizeof(float));
  }
  barrier(s, rank, n, ++gen);
}

// memfd-backed buffer mapped MAP_SHARED before fork: every rank sees every rank's buffer.
float* sharedBuffer(size_t bytes) {
  int fd = memfd_create("plexus-single-copy-bench", 0);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) die("memfd");
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) die("mmap");
  return static_cast<float*>(p);
}

int rankMain(Shared& s, int rank, const Options& o, const std::vector<float*>& fdIn,
             const std::vector<float*>& fdOut) {
  // Yama ptrace_scope 1 lets only an ancestor read a process: let every peer read this one.
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  s.pid[rank] = getpid();
  uint64_t gen = 0;
  std::vector<float> scratch(o.chunk / sizeof(float));
  int bad = 0;
  for (size_t si = 0; si < o.sizes.size(); ++si) {
    const size_t count = o.sizes[si] / sizeof(float);
    for (int variant = 0; variant < 3; ++variant) {
      std::vector<float> privIn, privOut;
      float *in, *out;
      if (variant != 1) {
        privIn.assign(count, 0.0f);
        privOut.assign(count, 0.0f);
        in = privIn.data();
        out = privOut.data();
      } else {
        in = fdIn[si * kMaxRanks + rank];
        out = fdOut[si * kMaxRanks + rank];
      }
      for (size_t i = 0; i < count; ++i) in[i] = static_cast<float>((i + rank) % 64);
      s.in[rank] = reinterpret_cast<uintptr_t>(in);
      s.out[rank] = reinterpret_cast<uintptr_t>(out);
      barrier(s, rank, o.ranks, ++gen);
      for (int rep = 0; rep < o.reps + 2; ++rep) {
        barrier(s, rank, o.ranks, ++gen);
        auto t0 = std::chrono::steady_clock::now();
        if (variant != 1)
          cmaAllReduce(s, rank, o.ranks, count, in, out, scratch, gen, variant == 2);
        else
          memfdAllReduce(s, rank, o.ranks, count, out, gen);
        double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (rep >= 2) s.seconds[rank][rep - 2] = sec;  // two warm-up calls
      }
      for (size_t i = 0; i < count; i += 4097) {
        float want = 0;
        for (int r = 0; r < o.ranks; ++r) want += static_cast<float>((i + r) % 64);
        if (out[i] != want) ++bad;
      }
      barrier(s, rank, o.ranks, ++gen);
      if (rank == 0) {
        std::vector<double> bw;
        for (int rep = 0; rep < o.reps; ++rep) {
          double t = 0;
          for (int r = 0; r < o.ranks; ++r) t = std::max(t, s.seconds[r][rep]);
          bw.push_back(2.0 * (o.ranks - 1) / o.ranks * static_cast<double>(o.sizes[si]) / t / 1e9);
        }
        std::sort(bw.begin(), bw.end());
        std::printf("%-8s %2d ranks %10zu B  busbw GB/s median %6.2f  min %6.2f  max %6.2f\n",
                    variant == 0   ? "cma"
                    : variant == 1 ? "memfd"
                                   : "cma-push",
                    o.ranks, o.sizes[si], bw[bw.size() / 2], bw.front(), bw.back());
        std::fflush(stdout);
      }
      barrier(s, rank, o.ranks, ++gen);
    }
  }
  if (bad > 0) std::fprintf(stderr, "rank %d: %d wrong results\n", rank, bad);
  return bad > 0 ? 1 : 0;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--ranks" && i + 1 < argc)
      o.ranks = std::atoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc)
      o.reps = std::atoi(argv[++i]);
    else if (a == "--chunk" && i + 1 < argc)
      o.chunk = std::strtoull(argv[++i], nullptr, 0);
    else
      o.sizes.push_back(std::strtoull(argv[i], nullptr, 0));
  }
  if (o.sizes.empty()) o.sizes = {size_t(16) << 20, size_t(64) << 20};
  o.ranks = std::clamp(o.ranks, 1, kMaxRanks);
  o.reps = std::clamp(o.reps, 1, 256);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  void* mem =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  auto* s = new (mem) Shared{};
  std::vector<float*> fdIn(o.sizes.size() * kMaxRanks), fdOut(fdIn.size());
  for (size_t si = 0; si < o.sizes.size(); ++si)
    for (int r = 0; r < o.ranks; ++r) {
      fdIn[si * kMaxRanks + r] = sharedBuffer(o.sizes[si]);
      fdOut[si * kMaxRanks + r] = sharedBuffer(o.sizes[si]);
    }
  std::vector<pid_t> kids;
  for (int r = 1; r < o.ranks; ++r) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) std::_Exit(rankMain(*s, r, o, fdIn, fdOut));
    kids.push_back(pid);
  }
  int rc = rankMain(*s, 0, o, fdIn, fdOut);
  for (pid_t k : kids) {
    int st = 0;
    waitpid(k, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = 1;
  }
  return rc;
}
