// Test helper: this process's peak resident memory (VmHWM in /proc/self/status), in bytes; 0 when
// it cannot be read.
#pragma once

#include <cstddef>
#include <fstream>
#include <string>

namespace plexus::test {

inline size_t peakResidentBytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  size_t kb = 0;
  while (in >> key) {
    if (key == "VmHWM:") {
      in >> kb;
      return kb * 1024;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace plexus::test
