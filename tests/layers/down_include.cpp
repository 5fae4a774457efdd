// Built with the transports layer's include roots only: including its own layer and the one below
// compiles (the control for upward_include.cpp, which must not).
#include "base/error.hpp"
#include "transports/common/transport.hpp"

namespace plexus::layers_probe {
int downwardIncludeCompiles() {
  return sizeof(transport::SlotConfig) > 0 ? 1 : 0;
}
}  // namespace plexus::layers_probe
