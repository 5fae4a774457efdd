// PLEXUS_TRANSPORTS: which transports, in which order (standard library and base only, so that the
// env fuzzer reaches it without the transports).
#pragma once

#include <string>
#include <vector>

namespace plexus::runtime {

constexpr const char* kValidTransportNames =
    "valid names: shm, tcp (built in), ibverbs, ofi, ucx (plugins); aliases: libfabric = ofi, "
    "verbs = ib = ibverbs; any other NAME loads a plugin libplexus-transport-NAME.so";

// Transport names in preference order after applying PLEXUS_TRANSPORTS / PLEXUS_SHM_DISABLE:
// "tcp" forces tcp, "shm,tcp" orders, "^shm" excludes. Throws Error(kInvalidArgument) naming a
// bad name (with a near miss suggested).
std::vector<std::string> transportOrderFromEnv();

// Whether `name` is a transport Plexus ships (shm, tcp, ibverbs, ofi, ucx).
bool isShippedTransport(const std::string& name);

// " (did you mean ofi?)" when `name` is a near miss of a shipped name or alias, else "".
std::string transportSuggestion(const std::string& name);

}  // namespace plexus::runtime
