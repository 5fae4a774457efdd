// A transport over any tagged-message fabric (TaggedFabric): the slot FIFO of each connection is a
// set of receives pre-posted into the receiver's slots, one per frame, matched by tag (connection,
// sender rank, frame number); the sender transmits a frame only while it holds a credit for it
// (slot_flow.hpp) and the receiver returns credits as it releases slots. The side band
// (sideband.hpp) authenticates peers, says when a connection's receives are posted, carries abort
// notices and reveals peers that are gone. The ofi and ucx plugins are this plus their fabric.
#pragma once

#include <memory>

#include "transports/common/transport.hpp"
#include "transports/plugin_common/tagged_fabric.hpp"

namespace plexus::transport {

struct TaggedTransportOptions {
  const char* name = "";      // the transport name ("ofi", "ucx")
  bool sameHostOnly = false;  // the fabric reaches only this host (libfabric shm)
};

std::unique_ptr<Transport> makeTaggedTransport(const TransportContext& ctx,
                                               const TaggedTransportOptions& options,
                                               std::unique_ptr<TaggedFabric> fabric);

}  // namespace plexus::transport
