// Exact scalar conversions between float and the narrow floating-point formats that Plexus
// reduces: IEEE binary16 (fp16), bfloat16, and OCP FP8 E4M3 / E5M2. All conversions from float
// round to nearest, ties to even, and handle subnormals, infinities and NaN. These functions are
// the reference that the vectorized kernels (reduce_avx2.cpp, reduce_avx512.cpp) must match bit
// for bit; tests/device/float_convert_test.cpp checks them exhaustively.
//
// Behaviour at the edges:
//  - fp16: overflow rounds to +-inf (IEEE). A NaN keeps its sign and the top payload bits and is
//    made quiet (what the F16C instruction VCVTPS2PH does).
//  - bf16: same exponent range as float; overflow rounds to +-inf; a NaN keeps its sign and top
//    payload bits and is made quiet.
//  - fp8 (both kinds): by default the conversion saturates, as CUDA's __nv_fp8_e4m3(float) and
//    __nv_fp8_e5m2(float) constructors do (__NV_SATFINITE) and therefore NCCL's fp8 reductions:
//    any value whose magnitude rounds above the largest finite number, infinities included,
//    becomes +-448 (E4M3) or +-57344 (E5M2). Any NaN becomes the canonical NaN 0x7F (CUDA's
//    host conversion canonicalizes the NaN before converting, so the sign is dropped).
//    Fp8Overflow::kNonSaturating gives CUDA's __NV_NOSAT instead: overflow becomes NaN (E4M3,
//    0x7F with the sign of the input) or +-inf (E5M2).
//  - Decoding never rounds: every fp16, bf16 and fp8 value is exactly a float. fp16 NaN decodes
//    like VCVTPH2PS (quiet bit set, payload shifted); bf16 NaN decodes bit for bit.
//
// Everything here is constexpr, callable from CUDA device code (PLEXUS_HD), and independent of the
// floating-point environment (MXCSR DAZ/FTZ and rounding mode do not change the results): only
// integer operations are used.
#pragma once

#include <cstdint>

#include "kernels/host_device.hpp"

namespace plexus {

enum class Fp8Overflow : uint8_t {
  kSaturate,       // CUDA __NV_SATFINITE (the default conversion, and what NCCL does)
  kNonSaturating,  // CUDA __NV_NOSAT: E4M3 overflow -> NaN, E5M2 overflow -> inf
};

namespace fpdetail {

PLEXUS_HD constexpr uint32_t bitsOf(float f) {
  return bitCast<uint32_t>(f);
}
PLEXUS_HD constexpr float floatOf(uint32_t u) {
  return bitCast<float>(u);
}

// Description of a narrow binary format with an implicit leading bit.
struct NarrowFormat {
  int manBits;         // stored mantissa bits
  int bias;            // exponent bias
  uint32_t maxFinite;  // encoding of the largest finite magnitude
  bool hasInf;         // all-ones exponent with zero mantissa is infinity (IEEE-like)
};

// Functions rather than constants: device code may read namespace-scope constexpr variables only
// when they are scalars.
PLEXUS_HD constexpr NarrowFormat halfFormat() {
  return {10, 15, 0x7BFFu, true};
}
PLEXUS_HD constexpr NarrowFormat e5m2Format() {
  return {2, 15, 0x7Bu, true};
}
PLEXUS_HD constexpr NarrowFormat e4m3Format() {
  return {3, 7, 0x7Eu, false};
}

// Rounds the magnitude |f| (a = float bits without sign, a <= 0x7F800000, not NaN) to the
// format, nearest-even. Returns the magnitude encoding; a value above maxFinite means overflow.
PLEXUS_HD constexpr uint32_t roundMagnitude(uint32_t a, NarrowFormat fmt) {
  const int shift = 23 - fmt.manBits;                             // float mantissa bits dropped
  const uint32_t minNormal = uint32_t(127 + 1 - fmt.bias) << 23;  // bits of 2^(1-bias)
  if (a >= minNormal) {
    const uint32_t halfUlp = 1u << (shift - 1);
    const uint32_t lsb = (a >> shift) & 1u;
    const uint32_t rounded = a + halfUlp - 1u + lsb;
    return (rounded >> shift) - (uint32_t(127 - fmt.bias) << fmt.manBits);
  }
  // Subnormal in the target (or zero). Units of the result: 2^(1 - bias - manBits).
  // The float is m * 2^(e - 150) with m including the implicit bit (e >= 1), so the result is
  // m * 2^(e - 150 - (1 - bias - manBits)) = m >> rshift.
  const int e = int(a >> 23);
  if (e == 0) return 0;  // float subnormal: far below half the smallest target subnormal
  const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  const int rshift = 150 + 1 - fmt.bias - fmt.manBits - e;  // >= shift + 1 here
  if (rshift > 24) return 0;  // m < 2^24: below half a unit (ties at rshift == 25 go to 0)
  const uint32_t q = m >> rshift;
  const uint32_t rem = m & ((1u << rshift) - 1u);
  const uint32_t half = 1u << (rshift - 1);
  return q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
}

// Exact value of a narrow encoding's magnitude bits (not NaN/inf).
PLEXUS_HD constexpr float decodeMagnitude(uint32_t mag, NarrowFormat fmt) {
  const uint32_t exp = mag >> fmt.manBits;
  const uint32_t man = mag & ((1u << fmt.manBits) - 1u);
  if (exp != 0) return floatOf(((exp - fmt.bias + 127) << 23) | (man << (23 - fmt.manBits)));
  // Subnormal: man * 2^(1 - bias - manBits); both factors and the product are normal floats.
  return float(man) * floatOf(uint32_t(127 + 1 - fmt.bias - fmt.manBits) << 23);
}

}  // namespace fpdetail

// ---- IEEE binary16 ----

PLEXUS_HD constexpr float halfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t mag = h & 0x7FFFu;
  if (mag >= 0x7C00u) {  // inf or NaN (NaN is made quiet, as VCVTPH2PS does)
    const uint32_t man = (mag & 0x3FFu) << 13;
    return fpdetail::floatOf(sign | 0x7F800000u | man | (man ? 0x400000u : 0u));
  }
  return fpdetail::floatOf(
      sign | fpdetail::bitsOf(fpdetail::decodeMagnitude(mag, fpdetail::halfFormat())));
}

PLEXUS_HD constexpr uint16_t floatToHalf(float f) {
  const uint32_t x = fpdetail::bitsOf(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return uint16_t(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  const uint32_t mag = fpdetail::roundMagnitude(a, fpdetail::halfFormat());
  return uint16_t(sign | (mag > 0x7BFFu ? 0x7C00u : mag));
}

// ---- bfloat16 ----

PLEXUS_HD constexpr float bf16ToFloat(uint16_t h) {
  return fpdetail::floatOf(uint32_t(h) << 16);
}

PLEXUS_HD constexpr uint16_t floatToBf16(float f) {
  const uint32_t x = fpdetail::bitsOf(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((x >> 16) | 0x0040u);  // quiet NaN
  return uint16_t((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

// ---- FP8 E4M3 (OCP / NVIDIA: bias 7, no infinities, max 448, NaN = S.1111.111) ----

PLEXUS_HD constexpr float fp8E4M3ToFloat(uint8_t v) {
  const uint32_t sign = uint32_t(v & 0x80u) << 24;
  const uint32_t mag = v & 0x7Fu;
  if (mag == 0x7Fu) return fpdetail::floatOf(sign | 0x7FC00000u);
  return fpdetail::floatOf(
      sign | fpdetail::bitsOf(fpdetail::decodeMagnitude(mag, fpdetail::e4m3Format())));
}

PLEXUS_HD constexpr uint8_t floatToFp8E4M3(float f, Fp8Overflow overflow = Fp8Overflow::kSaturate) {
  const uint32_t x = fpdetail::bitsOf(f);
  const uint32_t sign = (x >> 24) & 0x80u;
  const uint32_t a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return 0x7Fu;
  const uint32_t mag = fpdetail::roundMagnitude(a, fpdetail::e4m3Format());
  if (mag > 0x7Eu) return uint8_t(sign | (overflow == Fp8Overflow::kSaturate ? 0x7Eu : 0x7Fu));
  return uint8_t(sign | mag);
}

// ---- FP8 E5M2 (bias 15, IEEE-like: inf = S.11111.00, NaN = S.11111.xx with xx != 0) ----

PLEXUS_HD constexpr float fp8E5M2ToFloat(uint8_t v) {
  // E5M2 is the top byte of an fp16.
  return halfToFloat(uint16_t(uint16_t(v) << 8));
}

PLEXUS_HD constexpr uint8_t floatToFp8E5M2(float f, Fp8Overflow overflow = Fp8Overflow::kSaturate) {
  const uint32_t x = fpdetail::bitsOf(f);
  const uint32_t sign = (x >> 24) & 0x80u;
  const uint32_t a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return 0x7Fu;
  const uint32_t mag = fpdetail::roundMagnitude(a, fpdetail::e5m2Format());
  if (mag > 0x7Bu) return uint8_t(sign | (overflow == Fp8Overflow::kSaturate ? 0x7Bu : 0x7Cu));
  return uint8_t(sign | mag);
}

}  // namespace plexus
