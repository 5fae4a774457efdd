// Built with the transports layer's include roots only: the runtime sits above transports, so this
// include must fail to compile ("runtime/communicator.hpp: No such file or directory").
#include "runtime/communicator.hpp"

namespace plexus::layers_probe {
int upwardIncludeCompiled() {
  return 1;
}
}  // namespace plexus::layers_probe
