# Debian packages: `cpack -G DEB` in the build directory (docs/packages.md).
#   libplexus0                  the library, lib/plexus/{libplexus.so.0,libnccl.so.2}
#   libplexus-dev               headers, libplexus.so, lib/plexus/libnccl.so, CMake and pkg-config files
#   plexus-tools                plexus-run, plexus-topo, plexus-trace, plexus-doctor, the *_perf tools
#   libplexus-transport-NAME    each transport plugin built (ofi, ucx, ibverbs, ...)
# Dependencies on Debian's libraries come from dpkg-shlibdeps; those between Plexus's packages from
# the components' DEPENDS, with the exact version.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME plexus)
set(CPACK_PACKAGE_VENDOR "The Plexus authors")
set(CPACK_PACKAGE_CONTACT "Plexus maintainers <plexus@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Collective communication library (NCCL-compatible)")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libplexus.so.0 is ours: the tools that link it depend on libplexus0 through DEPENDS below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_LIBRARY_OUTPUT_DIRECTORY})
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libplexus0)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libplexus-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME plexus-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)

get_property(_plexus_plugins GLOBAL PROPERTY PLEXUS_TRANSPORT_PLUGINS)
set(_plexus_components runtime dev tools)
foreach(name IN LISTS _plexus_plugins)
  string(TOUPPER "TRANSPORT-${name}" _upper)
  set(CPACK_DEBIAN_${_upper}_PACKAGE_NAME libplexus-transport-${name})
  list(APPEND _plexus_components transport-${name})
endforeach()
# Only these: anything installed without a component would be in no package (the packages test
# compares the union of the packages with a plain `cmake --install`).
set(CPACK_COMPONENTS_ALL ${_plexus_components})

include(CPack)

cpack_add_component(runtime DISPLAY_NAME "libplexus0"
  DESCRIPTION "Plexus shared library: the NCCL C API and the C++ API, shm and tcp transports")
cpack_add_component(dev DISPLAY_NAME "libplexus-dev" DEPENDS runtime
  DESCRIPTION "Plexus headers (nccl.h, plexus.hpp), CMake package and pkg-config file")
cpack_add_component(tools DISPLAY_NAME "plexus-tools" DEPENDS runtime
  DESCRIPTION "plexus-run, plexus-topo, plexus-trace, plexus-doctor and the nccl-tests-compatible perf tools")
foreach(name IN LISTS _plexus_plugins)
  cpack_add_component(transport-${name} DISPLAY_NAME "libplexus-transport-${name}" DEPENDS runtime
    DESCRIPTION "Plexus ${name} transport plugin (loaded by libplexus0 when selected)")
endforeach()
