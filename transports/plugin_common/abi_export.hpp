// Exports a transport written in C++ (transport.hpp) as a plugin-ABI table (plexus/transport.h):
// what the shipped plugins (ofi, ucx, ibverbs) use, so that the core loads them exactly as it
// loads an out-of-tree plugin. The built-in shm and tcp transports are C++ objects, not tables.
//
//   const plexus_transport_v1_t* plexus_transport_v1(void) {
//     static const plexus_transport_v1_t table = exportTransport<makeMyTransport>("mine", 0);
//     return &table;
//   }
#pragma once

#include "plexus/transport.h"
#include "transports/common/transport.hpp"

namespace plexus::transport {

namespace abi_detail {
plexus_transport_v1_t baseTable(const char* name, uint32_t flags);
plexus_tp_result_t initWith(TransportFactory factory, const char* name,
                            const plexus_tp_config_t* config, void** ctx, char* error,
                            size_t errorLen);
}  // namespace abi_detail

template <TransportFactory Factory>
plexus_transport_v1_t exportTransport(const char* name, uint32_t flags) {
  plexus_transport_v1_t t = abi_detail::baseTable(name, flags);
  t.init = [](const plexus_tp_config_t* config, void** ctx, char* error, size_t errorLen) {
    return abi_detail::initWith(Factory, nullptr, config, ctx, error, errorLen);
  };
  return t;
}

}  // namespace plexus::transport
