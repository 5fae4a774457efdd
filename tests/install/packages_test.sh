#!/usr/bin/env bash
# Builds the Debian packages (cpack -G DEB, cmake/Packaging.cmake), installs them into a
# throw-away root (dpkg-deb -x: no chroot, no dpkg database touched) and uses them from there:
#   1. the packages expected (libplexus0, libplexus-dev, plexus-tools, one per transport plugin
#      built) exist, with the dependencies between them and on Debian's libraries;
#   2. the union of the packages holds every file a plain `cmake --install` installs (nothing is
#      left out of every package), and no file is in two packages;
#   3. the consumer example builds against the root with find_package(Plexus) and runs;
#   4. the tools run from the root (plexus-run starting 2 ranks of all_reduce_perf), each has a
#      man page, and the ofi plugin loads from the root's lib/plexus.
# Every check runs; the failures are listed at the end. Exits 77 (skipped) without dpkg-deb.
set -uo pipefail
build=$1
src=$2
if ! command -v dpkg-deb >/dev/null || ! command -v cpack >/dev/null; then
  echo "packages test skipped: dpkg-deb or cpack not found (a Debian system with CMake has both)"
  exit 77
fi
work=$(mktemp -d /tmp/plexus-packages-XXXXXX)
trap 'rm -rf "$work"' EXIT
log="$work/check.log"
# shellcheck source=checks.sh
source "$src/checks.sh"

if ! (cd "$build" && cpack -G DEB -B "$work/debs") >"$log" 2>&1; then
  cat "$log"
  echo "FAILED: cpack -G DEB in $build"
  exit 1
fi
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
deb() { ls "$work/debs/$1"_*.deb 2>/dev/null | head -1; }

expected_packages() {
  local p plugin missing=0
  local want=(libplexus0 libplexus-dev plexus-tools)
  for plugin in "$build"/lib/plexus/libplexus-transport-*.so; do
    [ -e "$plugin" ] || continue
    plugin=${plugin##*/libplexus-transport-}
    want+=("libplexus-transport-${plugin%.so}")
  done
  for p in "${want[@]}"; do
    [ -n "$(deb "$p")" ] || { echo "no package $p in: $(ls "$work/debs")"; missing=1; }
  done
  return $missing
}
check "packages: libplexus0, libplexus-dev, plexus-tools and one per plugin" expected_packages

depends_on() {  # package, dependency (a regex on the Depends field)
  local f
  f=$(deb "$1") && [ -n "$f" ] || { echo "no package $1"; return 1; }
  dpkg-deb -f "$f" Depends | grep -Eq "$2" || { echo "$1 Depends: $(dpkg-deb -f "$f" Depends); wanted $2"; return 1; }
}
dependencies() {
  local bad=0 p
  for p in libplexus-dev plexus-tools; do depends_on "$p" "libplexus0 \(= $version\)" || bad=1; done
  depends_on libplexus0 "libhwloc15" || bad=1
  depends_on libplexus0 "libstdc\+\+6" || bad=1
  [ -z "$(deb libplexus-transport-ofi)" ] || depends_on libplexus-transport-ofi "libfabric1" || bad=1
  [ -z "$(deb libplexus-transport-ucx)" ] || depends_on libplexus-transport-ucx "libucx0" || bad=1
  [ -z "$(deb libplexus-transport-ibverbs)" ] || depends_on libplexus-transport-ibverbs "libibverbs1" || bad=1
  for p in ofi ucx ibverbs; do
    [ -z "$(deb libplexus-transport-$p)" ] || depends_on "libplexus-transport-$p" "libplexus0 \(= $version\)" || bad=1
  done
  return $bad
}
check "dependencies (on libplexus0 = $version, and on Debian's libraries)" dependencies

root="$work/root"
mkdir -p "$root"
for f in "$work"/debs/*.deb; do dpkg-deb -x "$f" "$root" || failed+=("dpkg-deb -x $f"); done

complete() {
  cmake --install "$build" --prefix "$work/plain" >/dev/null || return 1
  (cd "$work/plain" && find . ! -type d | sort) >"$work/plain.list"
  (cd "$root/usr" && find . ! -type d | sort) >"$work/root.list"
  local missing
  missing=$(comm -23 "$work/plain.list" "$work/root.list")
  [ -z "$missing" ] || { echo "installed by cmake --install but in no package:"; echo "$missing"; return 1; }
  local twice
  twice=$(for f in "$work"/debs/*.deb; do dpkg-deb -c "$f" | awk '$1 !~ /^d/ {print $6}'; done | sort | uniq -d)
  [ -z "$twice" ] || { echo "in two packages:"; echo "$twice"; return 1; }
}
check "every installed file is in exactly one package" complete

for libdir in "$root"/usr/lib*/; do break; done
libdir=${libdir%/}
consumer() {
  cmake -S "$src/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$root/usr" &&
    cmake --build "$work/consumer-build" &&
    LD_LIBRARY_PATH="$libdir" "$work/consumer-build/consumer"
}
check "find_package(Plexus) consumer built against the packages" consumer

tools() {
  local bin="$root/usr/bin" t bad=0
  env LD_LIBRARY_PATH="$libdir" PLEXUS_SOCKET_IFNAME=lo "$bin/plexus-run" -n 2 --timeout 120 \
    "$bin/all_reduce_perf" -b 8 -e 4K -f 8 -n 2 -w 1 | tee "$work/perf.out" &&
    grep -q "Out of bounds values : 0 OK" "$work/perf.out" || bad=1
  for t in "$bin"/*; do
    t=${t##*/}
    [ -e "$root/usr/share/man/man1/$t.1" ] || { echo "no man page for $t"; bad=1; }
  done
  return $bad
}
if command -v help2man >/dev/null; then
  check "tools from the packages (plexus-run -n 2 all_reduce_perf), a man page for each" tools
else
  echo "note: help2man not installed: the man page check is off (apt-get install help2man)"
fi

if [ -e "$libdir/plexus/libplexus-transport-ofi.so" ]; then
  ofi_plugin() {
    cc "$src/../api/c_allreduce.c" -I"$root/usr/include/plexus" -L"$libdir/plexus" -lnccl \
      -o "$work/c-nccl" &&
      env LD_LIBRARY_PATH="$libdir/plexus" PLEXUS_TRANSPORTS=ofi FI_PROVIDER=shm "$work/c-nccl" 2 1000
  }
  check "ofi plugin from the packages (PLEXUS_TRANSPORTS=ofi, -lnccl from lib/plexus)" ofi_plugin
fi

report_checks "packages test"
