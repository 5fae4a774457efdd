// Exports a transport written in C++ (transport.hpp) as a plugin-ABI table (plexus/transport.h):
// what the shipped plugins (ofi, ucx, ibverbs) use, so that the core loads them exactly as it
// loads an out-of-tree plugin. The built-in shm and tcp transports are C++ objects, not tables.
//
//   const plexus_transport_v2_t* plexus_transport_v2(void) {
//     static const plexus_transport_v2_t table =
//         exportTransport<makeMyTransport>("mine", 0, PLEXUS_TP_REG_HOST);
//     return &table;
//   }
//
// and, for cores that know only ABI version 1, plexus_transport_v1 returning a
// versionOne(table) copy (registers no memory).
#pragma once

#include "plexus/transport.h"
#include "transports/common/transport.hpp"

namespace plexus::transport {

namespace abi_detail {
plexus_transport_v2_t baseTable(const char* name, uint32_t flags, uint32_t regCaps);
plexus_tp_result_t initWith(TransportFactory factory, const char* name,
                            const plexus_tp_config_t* config, void** ctx, char* error,
                            size_t errorLen);
}  // namespace abi_detail

// The version 2 table of a C++ transport; `regCaps` (PLEXUS_TP_REG_*) is what the plugin can
// register at most as built (each context says what it can now through registrationCaps()).
template <TransportFactory Factory>
plexus_transport_v2_t exportTransport(const char* name, uint32_t flags, uint32_t regCaps) {
  plexus_transport_v2_t t = abi_detail::baseTable(name, flags, regCaps);
  t.v1.init = [](const plexus_tp_config_t* config, void** ctx, char* error, size_t errorLen) {
    return abi_detail::initWith(Factory, nullptr, config, ctx, error, errorLen);
  };
  return t;
}

// The same transport as a version 1 table (abi_version 1, no memory registration), for cores
// that know only version 1.
inline plexus_transport_v1_t versionOne(const plexus_transport_v2_t& t) {
  plexus_transport_v1_t v1 = t.v1;
  v1.abi_version = PLEXUS_TRANSPORT_ABI_VERSION_1;
  return v1;
}

}  // namespace plexus::transport
