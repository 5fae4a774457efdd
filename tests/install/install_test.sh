#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then uses it from outside as the README says:
#   1. everything the build made is installed (library, lib/plexus aliases, plugins, tools);
#   2. find_package(Plexus) from a project that sets no C++ standard (Plexus::plexus carries
#      C++20);
#   3. pkg-config, with the -std=c++20 the README asks C++ users to pass;
#   4. unchanged NCCL code linked `-L$P/lib/plexus -lnccl` and run with only
#      LD_LIBRARY_PATH=$P/lib/plexus (the alias directory is self-sufficient), libnccl.so.2 there
#      loaded with dlopen as frameworks do, and a transport plugin loaded from there.
# Every check runs; the failures are listed at the end. A third argument adds compiler/linker
# flags to the consumers (a sanitizer build's library needs its runtime linked into the programs
# that load it).
set -uo pipefail
build=$1
src=$2
extra=${3:-}
prefix=$(mktemp -d /tmp/plexus-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
log="$prefix/check.log"
# shellcheck source=checks.sh
source "$src/checks.sh"

if ! cmake --install "$build" --prefix "$prefix" >"$log" 2>&1; then
  cat "$log"
  echo "FAILED: cmake --install $build"
  exit 1
fi
for libdir in "$prefix"/lib*/; do break; done  # lib or lib64
libdir=${libdir%/}

installed() {
  local f missing=0
  for f in bin/plexus-run bin/plexus-topo include/plexus/nccl.h include/plexus/plexus.hpp; do
    test -e "$prefix/$f" || { echo "missing: $f"; missing=1; }
  done
  for f in libplexus.so cmake/Plexus/PlexusConfig.cmake pkgconfig/plexus.pc plexus/libnccl.so \
    plexus/libnccl.so.2 plexus/libplexus.so.0; do
    test -e "$libdir/$f" || { echo "missing (or a dangling link): ${libdir#"$prefix"/}/$f"; missing=1; }
  done
  # Everything built that is meant for users: the perf tools and the transport plugins.
  for f in "$build"/bin/*_perf; do
    [ -e "$f" ] || continue
    test -e "$prefix/bin/${f##*/}" || { echo "built but not installed: bin/${f##*/}"; missing=1; }
  done
  for f in "$build"/lib/plexus/libplexus-transport-*.so; do
    [ -e "$f" ] || continue
    test -e "$libdir/plexus/${f##*/}" || { echo "built but not installed: plexus/${f##*/}"; missing=1; }
  done
  return $missing
}
check "installed files (tools, perf tools, plugins, lib/plexus aliases, package files)" installed

# find_package(Plexus); the consumer project sets no C++ standard.
find_package_consumer() {
  cmake -S "$src/consumer" -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_CXX_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" &&
    cmake --build "$prefix/consumer-build" &&
    LD_LIBRARY_PATH="$libdir" "$prefix/consumer-build/consumer"
}
check "find_package(Plexus) consumer that sets no C++ standard" find_package_consumer

# pkg-config, as the README says for C++: -std=c++20 plus the module's flags.
pkg_config_consumer() {
  local flags
  flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs plexus) || return 1
  # shellcheck disable=SC2086
  c++ -std=c++20 $extra "$src/consumer/main.cpp" -o "$prefix/pc-consumer" $flags &&
    LD_LIBRARY_PATH="$libdir" "$prefix/pc-consumer"
}
check "pkg-config consumer (c++ -std=c++20 \$(pkg-config --cflags --libs plexus))" pkg_config_consumer

# Unchanged NCCL code: nccl.h from include/plexus, -lnccl from lib/plexus, and at run time only
# lib/plexus on the library path.
nccl_program() {
  # shellcheck disable=SC2086
  cc $extra "$src/../api/c_allreduce.c" -I"$prefix/include/plexus" -L"$libdir/plexus" -lnccl \
    -o "$prefix/c-nccl" &&
    env LD_LIBRARY_PATH="$libdir/plexus" "$prefix/c-nccl" 2 1000
}
check "C program linked -L\$P/lib/plexus -lnccl, run with LD_LIBRARY_PATH=\$P/lib/plexus" nccl_program

# libnccl.so.2, the soname frameworks load, resolves in lib/plexus.
dlopen_nccl() {
  readlink -e "$libdir/plexus/libnccl.so.2" || { echo "lib/plexus/libnccl.so.2 missing or dangling"; return 1; }
  # shellcheck disable=SC2086
  cc $extra "$src/consumer/dlopen_nccl.c" -I"$prefix/include/plexus" -ldl -o "$prefix/dlopen-nccl" &&
    env LD_LIBRARY_PATH="$libdir/plexus" "$prefix/dlopen-nccl"
}
check "dlopen(\"libnccl.so.2\") with LD_LIBRARY_PATH=\$P/lib/plexus" dlopen_nccl

# A transport plugin, loaded by a library that was itself found through lib/plexus.
if [ -e "$libdir/plexus/libplexus-transport-ofi.so" ]; then
  ofi_plugin() {
    test -x "$prefix/c-nccl" || { echo "no c-nccl program (see above)"; return 1; }
    env LD_LIBRARY_PATH="$libdir/plexus" PLEXUS_TRANSPORTS=ofi FI_PROVIDER=shm "$prefix/c-nccl" 2 1000
  }
  check "ofi plugin from lib/plexus (PLEXUS_TRANSPORTS=ofi, LD_LIBRARY_PATH=\$P/lib/plexus)" ofi_plugin
fi

report_checks "install test"
