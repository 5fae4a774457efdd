// Host identity: ranks with the same host hash share a machine (and may use shared memory). The
// hash covers the host name, the kernel boot id and the network namespace, so ranks in distinct
// network namespaces count as distinct hosts (the netns tests rely on this). PLEXUS_HOSTID
// overrides it.
//
// Machine identity: ranks with the same machine hash run on one kernel and share its cores, even
// when they count as distinct hosts (network namespaces, containers, PLEXUS_HOSTID): the kernel
// boot id, or the host hash where it cannot be read. The wait policy judges oversubscription by it.
#pragma once

#include <cstdint>
#include <string>

namespace plexus {
uint64_t hostHash();
uint64_t machineHash();
std::string hostName();
uint64_t fnv1a64(const void* data, size_t size, uint64_t seed = 0xcbf29ce484222325ull);
}  // namespace plexus
