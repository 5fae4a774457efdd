#!/usr/bin/env bash
# The soak for as long as you like: 8 rank processes run randomized collectives, send/recv and
# groups, each checked exactly (tests/multiproc/soak_test.cpp; CI runs 60 s per transport).
#
# Usage: scripts/soak.sh [--minutes N] [--seed S] [--transports "shm tcp"] [--build DIR]
#   --minutes N      per transport (default 10)
#   --seed S         repeat a run (every run prints its seed; a failure prints seed and op index)
#   --transports T   names from tests/multiproc/transport_list.cpp (default "shm tcp")
#   --build DIR      a configured build folder (default: build); the test program is built there
# Prints one "SOAK|<transport>|seed=..|operations=..|checked=..|wrong=..|seconds=.." line per
# transport and exits non-zero when any result was wrong or any call failed.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=10
seed=""
transports="shm tcp"
build=build
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --transports) transports=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
  esac
done
[ -f "$build/build.ninja" ] || [ -f "$build/Makefile" ] ||
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target multiproc_soak_test >/dev/null
export PLEXUS_SOCKET_IFNAME=lo FI_TCP_IFACE=lo UCX_NET_DEVICES=lo
export PLEXUS_SOAK_SECONDS=$((minutes * 60))
[ -n "$seed" ] && export PLEXUS_SOAK_SEED=$seed
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in $transports; do
  # A run of its own per transport: its SOAK line and, on failure, the first wrong results and
  # failed calls of every rank (each names the seed and the operation's index).
  rc=0
  "$build/bin/multiproc_soak_test" --gtest_filter="Transports/Soak.*/$t" >"$log" 2>&1 || rc=$?
  grep -E 'SOAK\||^soak over|WRONG|FAILED seed|Failure' "$log" || true
  [ $rc -eq 0 ] || { status=1; echo "soak over $t failed (exit $rc)"; }
done
exit $status
