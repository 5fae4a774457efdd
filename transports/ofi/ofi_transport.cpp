// The ofi transport plugin (libplexus-transport-ofi.so): slot FIFOs over libfabric reliable
// datagram endpoints with tagged messages and credits (plugin_common/tagged_transport.hpp).
#include "transports/ofi/ofi_fabric.hpp"
#include "transports/plugin_common/abi_export.hpp"
#include "transports/plugin_common/tagged_transport.hpp"

namespace plexus::transport {
namespace {

std::unique_ptr<Transport> makeOfiTransport(const TransportContext& ctx) {
  auto fabric = std::make_unique<OfiFabric>(ctx);
  TaggedTransportOptions options;
  options.name = "ofi";
  options.sameHostOnly = fabric->sameHostOnly();
  return makeTaggedTransport(ctx, options, std::move(fabric));
}

}  // namespace
}  // namespace plexus::transport

// The entry points share their names with the tables' struct tags (C allows it; C++ warns).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
extern "C" __attribute__((visibility("default"))) const plexus_transport_v2_t* plexus_transport_v2(
    void) {
  static const plexus_transport_v2_t table =
      plexus::transport::exportTransport<plexus::transport::makeOfiTransport>(
          "ofi", 0, PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA);
  return &table;
}

// For cores that know only ABI version 1 (no memory registration).
extern "C" __attribute__((visibility("default"))) const plexus_transport_v1_t* plexus_transport_v1(
    void) {
  static const plexus_transport_v1_t table = plexus::transport::versionOne(*plexus_transport_v2());
  return &table;
}
#pragma GCC diagnostic pop
