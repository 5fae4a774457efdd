#!/usr/bin/env bash
# README command 2 (and what CI runs): install dependencies, build everything with warnings as
# errors, and run the whole test suite. Extra CTest arguments may be passed (e.g. -R multiproc).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# lizard (PyPI only) measures function lengths for the size-limit test (scripts/check_sizes.py).
python3 -c 'import lizard' 2>/dev/null || python3 -m pip install -q lizard ||
  echo "test.sh: could not install lizard; the size-limit test will be skipped" >&2
build=${PLEXUS_BUILD_DIR:-build-test}
jobs=$(nproc)
# -g1 (line tables: stacks with file and line, no variables) builds a quarter faster than -g.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPLEXUS_WERROR=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
cmake --build "$build" --parallel "$jobs"
# Tests talk only to loopback.
export PLEXUS_SOCKET_IFNAME=lo FI_TCP_IFACE=lo UCX_NET_DEVICES=lo
(cd "$build" && ctest --output-on-failure --timeout 600 -j "$jobs" "$@")
# The PyTorch backend (python/): builds against this tree for PyPI torch and Debian's torch 1.13
# and runs its tests; skipped when CTest arguments select a subset.
if [ $# -eq 0 ]; then bash python/ci.sh "$build"; fi
# The libFuzzer targets (tests/fuzz): a clang build of their own (build-fuzz), each target run from
# its seed corpus, two at a time; a finding fails CI and prints the reproducer's path. Seconds per
# target: PLEXUS_FUZZ_SECONDS (docs/reliability.md says what fits CI's budget). Full suite only.
if [ $# -eq 0 ]; then bash scripts/fuzz.sh --seconds "${PLEXUS_FUZZ_SECONDS:-60}"; fi
# The sanitizer jobs (scripts/sanitize.sh: TSan over the threaded paths; ASan+UBSan over the
# multi-process suite, CI's subset: docs/reliability.md "Sanitizers" says which), each in its own
# build folder. Only for the whole suite, like the PyTorch backend above. On 2 cores: TSan about
# 7 min, ASan about 8 min. PLEXUS_SANITIZE_JOBS chooses ("tsan asan" by default, "" none;
# "asan-full" runs ASan over the whole multi-process suite, about 15 min more).
if [ $# -eq 0 ]; then
  for job in ${PLEXUS_SANITIZE_JOBS-tsan asan}; do bash scripts/sanitize.sh "$job"; done
fi
