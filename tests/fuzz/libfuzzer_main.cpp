// libFuzzer's entry point for one target: PLEXUS_FUZZ_ENTRY names it (tests/fuzz/CMakeLists.txt).
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return plexus::fuzz::PLEXUS_FUZZ_ENTRY(data, size);
}
