# Layers (docs/design.md, "Layers"): every layer is one folder and one CMake target whose include
# root shows that folder and nothing else. The root is a directory in the build tree holding one
# link, named like the layer, to the layer's folder: `#include "base/error.hpp"` resolves only in
# targets that link plexus_base (directly or through a layer above it), so an upward include is a
# build error rather than a convention. tests/layers proves it with a deliberately bad include;
# scripts/check_layers.py checks every include of the tree against the same table.

# The C headers and vocabulary types every layer may use (error codes, datatypes, the plugin ABI).
# The API headers (nccl.h, plexus.hpp) are reached only through the api target (src/api).
set(PLEXUS_VOCABULARY_ROOT ${CMAKE_BINARY_DIR}/layers/vocabulary)
file(MAKE_DIRECTORY ${PLEXUS_VOCABULARY_ROOT}/plexus)
foreach(header types.hpp transport.h)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/plexus/${header}
    ${PLEXUS_VOCABULARY_ROOT}/plexus/${header} SYMBOLIC)
endforeach()

# plexus_layer(<target> <name> <folder> [PRIVATE]): gives <target> the include root of layer
# <name>, whose headers live in <folder> and are included as "<name>/<file>"; users of <target>
# see it too unless PRIVATE (the api layer: its users see only include/plexus).
function(plexus_layer target name folder)
  set(root ${CMAKE_BINARY_DIR}/layers/${name})
  file(MAKE_DIRECTORY ${root})
  file(CREATE_LINK ${folder} ${root}/${name} SYMBOLIC)
  set(scope PUBLIC)
  if(ARGV3 STREQUAL "PRIVATE")
    set(scope PRIVATE)
  endif()
  target_include_directories(${target} ${scope} $<BUILD_INTERFACE:${root}>)
endfunction()
