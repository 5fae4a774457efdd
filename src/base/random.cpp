// getrandom wrapper.
#include "base/random.hpp"

#include <sys/random.h>

#include <cerrno>

#include "base/error.hpp"

namespace plexus {
void randomBytes(void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throwSystemError(errno, "getrandom failed while making a secret");
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}
uint64_t randomU64() {
  uint64_t v;
  randomBytes(&v, sizeof(v));
  return v;
}
}  // namespace plexus
