// Marks the functions that host kernels and CUDA device kernels share (float_convert.hpp,
// reduce_ops.hpp): __host__ __device__ when nvcc compiles, nothing for the host compiler.
#pragma once

#if defined(__CUDACC__)
#define PLEXUS_HD __host__ __device__
#else
#define PLEXUS_HD
#endif

namespace plexus {

// std::bit_cast for both sides: std::bit_cast is a host-only function to nvcc, the builtin under
// it is not (GCC >= 11, Clang and nvcc all provide it, usable in constant expressions).
template <class To, class From>
PLEXUS_HD constexpr To bitCast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From), "bitCast needs types of the same size");
  return __builtin_bit_cast(To, from);
}

}  // namespace plexus
