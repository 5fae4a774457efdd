#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs programs against it three
# ways: find_package(Plexus), pkg-config, and plain NCCL code linked with -lnccl from lib/plexus.
# A third argument adds compiler/linker flags to the consumers (a sanitizer build's library needs
# its runtime linked into the programs that load it).
set -euo pipefail
build=$1
src=$2
extra=${3:-}
prefix=$(mktemp -d /tmp/plexus-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -1)
for f in bin/plexus-run bin/plexus-topo bin/all_reduce_perf include/plexus/nccl.h include/plexus/plexus.hpp; do
  test -e "$prefix/$f" || { echo "missing after install: $f"; exit 1; }
done
test -e "$libdir/libplexus.so" && test -L "$libdir/plexus/libnccl.so" || { echo "missing libraries"; exit 1; }
test -e "$libdir/cmake/Plexus/PlexusConfig.cmake" && test -e "$libdir/pkgconfig/plexus.pc"

# find_package(Plexus)
cmake -S "$src/consumer" -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$prefix/consumer-build/consumer"

# pkg-config
# shellcheck disable=SC2086
PKG_CONFIG_PATH="$libdir/pkgconfig" c++ -std=c++20 $extra "$src/consumer/main.cpp" -o "$prefix/pc-consumer" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs plexus)
LD_LIBRARY_PATH="$libdir" "$prefix/pc-consumer"

# unchanged NCCL code: nccl.h from include/plexus, -lnccl from lib/plexus
# shellcheck disable=SC2086
cc $extra "$src/../api/c_allreduce.c" -I"$prefix/include/plexus" -L"$libdir/plexus" -lnccl -o "$prefix/c-nccl"
LD_LIBRARY_PATH="$libdir" "$prefix/c-nccl" 2 1000
echo "install test passed"
