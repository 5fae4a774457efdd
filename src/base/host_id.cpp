// Host name and host hash.
#include "base/host_id.hpp"

#include <unistd.h>

#include <climits>
#include <fstream>
#include <string>

#include "base/env.hpp"

namespace plexus {

uint64_t fnv1a64(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

uint64_t hostHash() {
  std::string id;
  if (auto v = envGet("HOSTID")) {
    id = *v;
  } else {
    id = hostName();
    std::ifstream boot("/proc/sys/kernel/random/boot_id");
    std::string bootId;
    if (boot >> bootId) id += "|" + bootId;
    char link[256] = {};
    ssize_t n = readlink("/proc/self/ns/net", link, sizeof(link) - 1);
    if (n > 0) id += "|" + std::string(link, static_cast<size_t>(n));
  }
  return fnv1a64(id.data(), id.size());
}

uint64_t machineHash() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string bootId;
  if (!(boot >> bootId)) return hostHash();
  return fnv1a64(bootId.data(), bootId.size());
}

}  // namespace plexus
