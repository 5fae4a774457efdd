#!/usr/bin/env bash
# README command 1: install dependencies, build Plexus (Release: the library, the transport plugins,
# plexus-run, plexus-topo and every *_perf tool, i.e. all that `cmake --install` installs), check
# that the build installs, show this host's topology and run a 4-rank all-reduce sweep over shared
# memory. PLEXUS_BUILD_DIR (default build) and PLEXUS_JOBS (default: all cores) are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${PLEXUS_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPLEXUS_BUILD_TESTS=OFF >/dev/null
# The default target: everything `cmake --install` needs (a subset would make it fail on a
# missing plugin or tool).
cmake --build "$build" --parallel "${PLEXUS_JOBS:-$(nproc)}"
# The README's next step is `cmake --install`: make sure it works on this build (a scratch prefix).
prefix=$(mktemp -d "${TMPDIR:-/tmp}/plexus-quickstart-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
if ! cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1; then
  cat "$prefix.log" >&2
  rm -f "$prefix.log"
  echo "quickstart: 'cmake --install $build' failed" >&2
  exit 1
fi
rm -f "$prefix.log"
echo "quickstart: 'cmake --install $build --prefix DIR' works (tried in a scratch prefix)"
echo
echo "== This host's topology (plexus-topo show) =="
"$build/bin/plexus-topo" show
echo
echo "== 4-rank all-reduce over shared memory (plexus-run -n 4 all_reduce_perf -b 8 -e 64M -f 4) =="
"$build/bin/plexus-run" -n 4 --no-prefix "$build/bin/all_reduce_perf" -b 8 -e 64M -f 4
