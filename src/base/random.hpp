// Cryptographically random bytes from the kernel (getrandom), for secrets and ids.
#pragma once

#include <cstddef>
#include <cstdint>

namespace plexus {
void randomBytes(void* out, size_t n);
uint64_t randomU64();
}  // namespace plexus
