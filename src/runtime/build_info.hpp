// What this library is: "Plexus 0.1.0 (git v0.1-42-gabcdef0, RelWithDebInfo, CUDA yes)", for the
// first INFO line of each communicator. The definition is generated at build time
// (build_info.cmake).
#pragma once

namespace plexus::runtime {
const char* buildDescription();
}  // namespace plexus::runtime
