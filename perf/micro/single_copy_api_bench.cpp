// 2-rank all-reduce (fp32 sum, out of place) through the library with plain buffers and with
// ncclMemAlloc buffers, 16 and 64 MB: the number behind docs/performance.md, "Single copy"
// (all_reduce_perf does not allocate with ncclMemAlloc). Run it once with PLEXUS_SINGLE_COPY=0
// (slots) and once with =1 (cross-memory attach for plain buffers, zero copy for ncclMemAlloc's).
// Rank 1 is forked before rank 0 makes the unique id; busbw = bytes / time of one call (2 ranks),
// median, min and max over 10 calls, each after a 1-element all-reduce that lines the ranks up.
//
//   PLEXUS_SINGLE_COPY=1 perf_micro_single_copy_api
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <new>
#include <vector>

#include "plexus/nccl.h"

namespace {

struct Board {
  std::atomic<int> ready{0};
  ncclUniqueId id{};
};

double timeOne(ncclComm_t comm, const float* in, float* out, size_t n) {
  float sync = 0.0f;
  ncclAllReduce(&sync, &sync, 1, ncclFloat32, ncclSum, comm, nullptr);  // line the ranks up
  const auto t0 = std::chrono::steady_clock::now();
  ncclAllReduce(in, out, n, ncclFloat32, ncclSum, comm, nullptr);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int measure(int rank, ncclComm_t comm, bool shared, size_t bytes) {
  const size_t n = bytes / sizeof(float);
  std::vector<float> vin, vout;
  void* pin = nullptr;
  void* pout = nullptr;
  if (shared) {
    if (ncclMemAlloc(&pin, bytes) != ncclSuccess || ncclMemAlloc(&pout, bytes) != ncclSuccess)
      return 1;
  } else {
    vin.resize(n);
    vout.resize(n);
    pin = vin.data();
    pout = vout.data();
  }
  auto* in = static_cast<float*>(pin);
  auto* out = static_cast<float*>(pout);
  std::fill(in, in + n, 1.0f);
  std::fill(out, out + n, 0.0f);
  std::vector<double> t;
  for (int i = 0; i < 12; ++i) {
    const double s = timeOne(comm, in, out, n);
    if (i >= 2) t.push_back(s);  // two warm-up calls (the first maps the peers' buffers)
  }
  std::sort(t.begin(), t.end());
  const bool right = out[0] == 2.0f && out[n - 1] == 2.0f;
  if (rank == 0)
    std::printf("%-12s %9zu B  busbw GB/s median %5.2f  min %5.2f  max %5.2f%s\n",
                shared ? "ncclMemAlloc" : "plain", bytes, bytes / t[t.size() / 2] / 1e9,
                bytes / t.back() / 1e9, bytes / t.front() / 1e9, right ? "" : "  WRONG");
  std::fflush(stdout);
  if (shared) {
    ncclMemFree(pin);
    ncclMemFree(pout);
  }
  return right ? 0 : 1;
}

int rankMain(int rank, Board* b) {
  while (b->ready.load() == 0) usleep(1000);
  if (b->ready.load() < 0) return 1;
  ncclComm_t comm;
  if (ncclCommInitRank(&comm, 2, b->id, rank) != ncclSuccess) return 1;
  int rc = 0;
  for (bool shared : {false, true})
    for (size_t bytes : {size_t(16) << 20, size_t(64) << 20})
      rc |= measure(rank, comm, shared, bytes);
  ncclCommDestroy(comm);
  return rc;
}

}  // namespace

int main() {
  void* mem =
      mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return 2;
  auto* b = new (mem) Board{};
  const pid_t child = fork();
  if (child == 0) _exit(rankMain(1, b));
  b->ready.store(ncclGetUniqueId(&b->id) == ncclSuccess ? 1 : -1);
  int rc = rankMain(0, b);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
  return rc;
}
