// cuda_copy_bw: the copy bandwidths that bound the perf tools' numbers on one GPU. Device to
// device with cudaMemcpyAsync and with a plain copy kernel (16-byte loads and stores, several in
// flight per thread): the HBM bound, counting bytes read plus bytes written as copy benchmarks do.
// Host to device and device to host from pinned memory: the PCIe bound of a path that stages
// through host memory. Each figure is the median of -n timed repetitions (CUDA events on one
// stream) after 2 untimed ones; the kernel copy is checked against its source.
//
//   cuda_copy_bw [-b BYTES (default 1G; K, M, G suffixes)] [-n REPS (default 20)] [-d DEVICE]
//
// The last line is for scripts: "copy_bw device=0 bytes=... d2d_memcpy=... d2d_kernel=...
// h2d_pinned=... d2h_pinned=..." in GB/s (10^9 bytes per second). Exit 0 when every figure was
// measured and the check passed, 1 on a CUDA error or a wrong copy, 2 on a usage error or when no
// CUDA device is usable.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorName(err) + " (" +
                             cudaGetErrorString(err) + ")");
}

__global__ void fillKernel(uint32_t* p, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x)
    p[i] = static_cast<uint32_t>(i * 2654435761u) ^ 0x5a5a5a5au;
}

// Four independent 16-byte loads in flight per thread before the stores.
__global__ void copyKernel(const uint4* __restrict__ src, uint4* __restrict__ dst, size_t n) {
  constexpr int kUnroll = 4;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < n; i += kUnroll * stride) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = src[i + u * stride];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) dst[i + u * stride] = v[u];
  }
  for (; i < n; i += stride) dst[i] = src[i];
}

struct Args {
  size_t bytes = size_t{1} << 30;
  int reps = 20;
  int device = 0;
};

bool parseArgs(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") return false;
    if (i + 1 >= argc) return false;
    std::string v = argv[++i];
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    double mult = 1;
    if (*end == 'K' || *end == 'k') mult = 1024.0, ++end;
    if (*end == 'M' || *end == 'm') mult = 1024.0 * 1024, ++end;
    if (*end == 'G' || *end == 'g') mult = 1024.0 * 1024 * 1024, ++end;
    if (*end != '\0' || x < 0) return false;
    if (flag == "-b")
      a.bytes = static_cast<size_t>(x * mult);
    else if (flag == "-n")
      a.reps = static_cast<int>(x);
    else if (flag == "-d")
      a.device = static_cast<int>(x);
    else
      return false;
  }
  a.bytes = a.bytes / 16 * 16;
  return a.bytes > 0 && a.reps > 0;
}

// Median seconds of one repetition of op() on `stream`, timed with events.
double medianSeconds(cudaStream_t stream, int reps, const std::function<void()>& op) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (int w = 0; w < 2; ++w) op();
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    check(cudaEventRecord(start, stream), "cudaEventRecord");
    op();
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    times.push_back(ms / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// The first and last MiB of dst must equal those of src.
bool sameEnds(const void* src, const void* dst, size_t bytes) {
  const size_t span = std::min(bytes, size_t{1} << 20);
  std::vector<unsigned char> a(span), b(span);
  for (size_t off : {size_t{0}, bytes - span}) {
    check(cudaMemcpy(a.data(), static_cast<const unsigned char*>(src) + off, span,
                     cudaMemcpyDeviceToHost),
          "cudaMemcpy (check)");
    check(cudaMemcpy(b.data(), static_cast<const unsigned char*>(dst) + off, span,
                     cudaMemcpyDeviceToHost),
          "cudaMemcpy (check)");
    if (std::memcmp(a.data(), b.data(), span) != 0) return false;
  }
  return true;
}

int run(const Args& a) {
  check(cudaSetDevice(a.device), "cudaSetDevice");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, a.device), "cudaGetDeviceProperties");
  std::printf("# cuda_copy_bw: device %d %s (%d SMs), %zu bytes, median of %d repetitions\n",
              a.device, prop.name, prop.multiProcessorCount, a.bytes, a.reps);
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  void *src = nullptr, *dst = nullptr, *pinned = nullptr;
  check(cudaMalloc(&src, a.bytes), "cudaMalloc (source)");
  check(cudaMalloc(&dst, a.bytes), "cudaMalloc (destination)");
  check(cudaMallocHost(&pinned, a.bytes), "cudaMallocHost");
  const int blocks = prop.multiProcessorCount * 4;
  fillKernel<<<blocks, 512, 0, stream>>>(static_cast<uint32_t*>(src), a.bytes / 4);
  check(cudaGetLastError(), "fill kernel launch");
  check(cudaMemsetAsync(dst, 0xff, a.bytes, stream), "cudaMemsetAsync");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  std::memset(pinned, 0x3c, a.bytes);

  const double gb = static_cast<double>(a.bytes) / 1e9;
  double tMemcpy = medianSeconds(stream, a.reps, [&] {
    check(cudaMemcpyAsync(dst, src, a.bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync");
  });
  check(cudaMemsetAsync(dst, 0xff, a.bytes, stream), "cudaMemsetAsync");
  double tKernel = medianSeconds(stream, a.reps, [&] {
    copyKernel<<<blocks, 512, 0, stream>>>(static_cast<const uint4*>(src), static_cast<uint4*>(dst),
                                           a.bytes / 16);
    check(cudaGetLastError(), "copy kernel launch");
  });
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  const bool copied = sameEnds(src, dst, a.bytes);
  double tH2D = medianSeconds(stream, a.reps, [&] {
    check(cudaMemcpyAsync(dst, pinned, a.bytes, cudaMemcpyHostToDevice, stream), "H2D copy");
  });
  double tD2H = medianSeconds(stream, a.reps, [&] {
    check(cudaMemcpyAsync(pinned, src, a.bytes, cudaMemcpyDeviceToHost, stream), "D2H copy");
  });
  std::printf("# device to device, cudaMemcpyAsync : %8.1f GB/s read+written (%.3f ms)\n",
              2 * gb / tMemcpy, tMemcpy * 1e3);
  std::printf("# device to device, copy kernel     : %8.1f GB/s read+written (%.3f ms)%s\n",
              2 * gb / tKernel, tKernel * 1e3, copied ? "" : "  WRONG COPY");
  std::printf("# host to device, pinned            : %8.1f GB/s (%.3f ms)\n", gb / tH2D,
              tH2D * 1e3);
  std::printf("# device to host, pinned            : %8.1f GB/s (%.3f ms)\n", gb / tD2H,
              tD2H * 1e3);
  std::printf(
      "copy_bw device=%d bytes=%zu d2d_memcpy=%.1f d2d_kernel=%.1f h2d_pinned=%.1f "
      "d2h_pinned=%.1f\n",
      a.device, a.bytes, 2 * gb / tMemcpy, 2 * gb / tKernel, gb / tH2D, gb / tD2H);
  cudaFreeHost(pinned);
  cudaFree(dst);
  cudaFree(src);
  cudaStreamDestroy(stream);
  if (!copied)
    std::fprintf(stderr, "cuda_copy_bw: the copy kernel's result differs from its source\n");
  return copied ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parseArgs(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: cuda_copy_bw [-b BYTES (default 1G)] [-n REPS (default 20)] "
                 "[-d DEVICE (default 0)]\n");
    return 2;
  }
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    std::fprintf(stderr, "cuda_copy_bw: no usable CUDA device (%s)\n",
                 err != cudaSuccess ? cudaGetErrorString(err) : "cudaGetDeviceCount returned 0");
    return 2;
  }
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_copy_bw: device %d: %s\n", a.device, e.what());
    return 1;
  }
}
