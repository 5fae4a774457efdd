// The core's side of the plugin ABI: finds a transport's table (built in, or libplexus-transport-
// NAME.so on the plugin search path) and wraps it as the engine-facing Transport.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plexus/transport.h"
#include "transports/common/transport.hpp"

namespace plexus::transport {

// The table of plugin `name`, loaded once per process from libplexus-transport-NAME.so
// (PLEXUS_PLUGIN_PATH, then the plexus/ directory next to libplexus.so, then the loader's default
// path). nullptr when no library is found; `searched` then lists where it looked.
const plexus_transport_v1_t* findTransportTable(const std::string& name, std::string* searched);

// Initialises the transport for this communicator from `builtin` or, when that is null, from its
// plugin library. Returns nullptr (after one INFO line saying why) when the library is missing or
// the transport has no usable device here; throws on real errors.
std::unique_ptr<Transport> loadTransport(const std::string& name, const TransportContext& ctx,
                                         const plexus_transport_v1_t* builtin = nullptr);

// Wraps an already found table (tests use it with their own tables).
std::unique_ptr<Transport> wrapTransportTable(const plexus_transport_v1_t* table,
                                              const TransportContext& ctx,
                                              std::string* unavailable);

}  // namespace plexus::transport
