// Host identity: ranks with the same host hash share a machine (and may use shared memory). The
// hash covers the host name, the kernel boot id and the network namespace, so ranks in distinct
// network namespaces count as distinct hosts (the netns tests rely on this). PLEXUS_HOSTID
// overrides it.
#pragma once

#include <cstdint>
#include <string>

namespace plexus {
uint64_t hostHash();
std::string hostName();
uint64_t fnv1a64(const void* data, size_t size, uint64_t seed = 0xcbf29ce484222325ull);
}  // namespace plexus
