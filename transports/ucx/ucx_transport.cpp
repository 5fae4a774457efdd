// The ucx transport plugin (libplexus-transport-ucx.so): slot FIFOs over UCP tagged messages with
// credits (plugin_common/tagged_transport.hpp).
#include "transports/plugin_common/abi_export.hpp"
#include "transports/plugin_common/tagged_transport.hpp"
#include "transports/ucx/ucx_fabric.hpp"

namespace plexus::transport {
namespace {

std::unique_ptr<Transport> makeUcxTransport(const TransportContext& ctx) {
  TaggedTransportOptions options;
  options.name = "ucx";
  return makeTaggedTransport(ctx, options, std::make_unique<UcxFabric>(ctx));
}

}  // namespace
}  // namespace plexus::transport

// The entry points share their names with the tables' struct tags (C allows it; C++ warns).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
extern "C" __attribute__((visibility("default"))) const plexus_transport_v2_t* plexus_transport_v2(
    void) {
  static const plexus_transport_v2_t table =
      plexus::transport::exportTransport<plexus::transport::makeUcxTransport>("ucx", 0, 0);
  return &table;
}

// For cores that know only ABI version 1 (no memory registration).
extern "C" __attribute__((visibility("default"))) const plexus_transport_v1_t* plexus_transport_v1(
    void) {
  static const plexus_transport_v1_t table = plexus::transport::versionOne(*plexus_transport_v2());
  return &table;
}
#pragma GCC diagnostic pop
