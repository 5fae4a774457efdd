#!/usr/bin/env bash
# README command 1: install dependencies, build Plexus (Release), show this host's topology and run
# a 4-rank all-reduce sweep over shared memory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${PLEXUS_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPLEXUS_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --parallel "$(nproc)" --target plexus plexus-topo plexus-run all_reduce_perf
echo
echo "== This host's topology (plexus-topo show) =="
"$build/bin/plexus-topo" show
echo
echo "== 4-rank all-reduce over shared memory (plexus-run -n 4 all_reduce_perf -b 8 -e 64M -f 4) =="
"$build/bin/plexus-run" -n 4 --no-prefix "$build/bin/all_reduce_perf" -b 8 -e 64M -f 4
