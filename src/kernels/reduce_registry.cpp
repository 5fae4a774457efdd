// The one registry of host reduction kernels (a documented process-wide constant): on first use
// it builds one table per instruction-set family this build and this CPU support, picks the
// family reduceBuffers() uses (best available, or PLEXUS_REDUCE_ISA), and never changes them.
#include <array>
#include <cstring>
#include <string>

#include "base/env.hpp"
#include "base/log.hpp"
#include "kernels/reduce_kernels.hpp"

namespace plexus::kernels {
namespace {

bool cpuHas(Isa isa) {
#if defined(PLEXUS_DEVICE_X86_KERNELS)
  __builtin_cpu_init();  // may run before the constructors that usually do it
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") &&
             __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      return cpuHas(Isa::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq");
    case Isa::kAvx512Bf16:
      return cpuHas(Isa::kAvx512) && __builtin_cpu_supports("avx512bf16");
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

struct Registry {
  std::array<ReduceKernels, kNumIsas> tables{};
  std::array<bool, kNumIsas> available{};
  Isa active = Isa::kScalar;
};

Registry build() {
  Registry r;
  for (int i = 0; i < kNumIsas; ++i) {
    const Isa isa = static_cast<Isa>(i);
    if (!cpuHas(isa)) continue;
    // Each family starts from the one before it and overrides what it implements.
    ReduceKernels& t = r.tables[i];
    fillScalarKernels(t);
#if defined(PLEXUS_DEVICE_X86_KERNELS)
    if (i >= int(Isa::kAvx2)) fillAvx2Kernels(t);
    if (i >= int(Isa::kAvx512)) fillAvx512Kernels(t);
    if (i >= int(Isa::kAvx512Bf16)) fillAvx512Bf16Kernels(t);
#endif
    r.available[i] = true;
    r.active = isa;  // families are ordered from least to most capable
  }
  const std::string wanted = envString("REDUCE_ISA", "auto");
  if (wanted != "auto" && !wanted.empty()) {
    bool known = false;
    for (int i = 0; i < kNumIsas; ++i) {
      if (wanted != isaName(static_cast<Isa>(i))) continue;
      known = true;
      if (r.available[i]) {
        r.active = static_cast<Isa>(i);
      } else {
        PLEXUS_WARN(subsys::kInit,
                    "PLEXUS_REDUCE_ISA=%s: this CPU or build cannot run it; using %s instead",
                    wanted.c_str(), isaName(r.active));
      }
    }
    if (!known) {
      PLEXUS_WARN(
          subsys::kInit,
          "PLEXUS_REDUCE_ISA=%s is not one of auto, avx512bf16, avx512, avx2, scalar; using %s",
          wanted.c_str(), isaName(r.active));
    }
  }
  PLEXUS_INFO(subsys::kInit, "Host reduction kernels: %s", isaName(r.active));
  return r;
}

const Registry& registry() {
  static const Registry r = build();
  return r;
}

}  // namespace

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx512Bf16:
      return "avx512bf16";
  }
  return "unknown";
}

const ReduceKernels* kernelsFor(Isa isa) {
  const int i = static_cast<int>(isa);
  if (i < 0 || i >= kNumIsas) return nullptr;
  const Registry& r = registry();
  return r.available[i] ? &r.tables[i] : nullptr;
}

const ReduceKernels& activeKernels() {
  const Registry& r = registry();
  return r.tables[static_cast<int>(r.active)];
}

}  // namespace plexus::kernels
