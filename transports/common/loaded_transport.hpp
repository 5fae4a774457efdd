// The core's side of the plugin ABI: finds a plugin's table (libplexus-transport-NAME.so on the
// plugin search path) and adapts it to the C++ contract (transport.hpp). The built-in shm and tcp
// transports are C++ objects and never pass through here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plexus/transport.h"
#include "transports/common/transport.hpp"

namespace plexus::transport {

// The table of plugin `name`, loaded once per process from libplexus-transport-NAME.so
// (PLEXUS_PLUGIN_PATH, then the plexus/ directory next to libplexus.so, then the loader's default
// path). nullptr when no library is found; `searched` then lists where it looked. For a version 2
// plugin (plexus_transport_v2) this is the v1 member of its table, abi_version 2; for a version 1
// plugin its table, abi_version 1. With `failures`, what went wrong with libraries that exist but
// did not load (dlerror, or the ABI they speak) goes there instead of at the end of `searched`.
const plexus_transport_v1_t* findTransportTable(const std::string& name, std::string* searched,
                                                std::string* failures = nullptr);

// Initialises plugin `name` for this communicator from its library. Returns nullptr (after one
// INFO line saying why) when the library is missing or the transport has no usable device here;
// throws on real errors.
std::unique_ptr<Transport> loadTransport(const std::string& name, const TransportContext& ctx);

// A plugin's costs from the devices it reports (ABI v1 plexus_tp_device_t): the fastest device's
// bandwidth (Gbit/s -> GB/s per connection) and the lowest latency; tcp's for a missing figure.
Costs costsFromDevices(const std::vector<plexus_tp_device_t>& devices, const char* name);

// Wraps an already found table (tests use it with their own tables): version 1, or the v1 member
// of a version 2 table (abi_version 2), whose registration calls the Transport then uses.
std::unique_ptr<Transport> wrapTransportTable(const plexus_transport_v1_t* table,
                                              const TransportContext& ctx,
                                              std::string* unavailable);

}  // namespace plexus::transport
