// Helpers of memory registration shared by the transports (the contract itself, MemoryRegion and
// Transport::registerMemory, is in transport.hpp).
#pragma once

#include <cstdint>

#include "transports/common/transport.hpp"

namespace plexus::transport {

// `caps` (PLEXUS_TP_REG_*) less what the knobs switch off: PLEXUS_NET_GDR=0 removes every CUDA
// capability (always stage device buffers), PLEXUS_DMABUF_ENABLE=0 the dma-buf one.
uint32_t applyRegistrationKnobs(uint32_t caps);

}  // namespace plexus::transport
