#!/usr/bin/env bash
# Runs the acceptance commands of the issues that need long multi-process sweeps and writes one
# log per command plus a summary. Usage: scripts/acceptance.sh [build-dir] [issue2|issue4|all]
# (default build: build). Not part of CI (it takes a long time on a small machine).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
what=${2:-all}
bin="$build/bin"
out="perf/results/acceptance-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
export PLEXUS_SOCKET_IFNAME=lo
summary="$out/summary.txt"
failed=0

run() {  # name, env..., -- command...
  local name=$1
  shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local log="$out/$name.log"
  local t0=$(date +%s)
  env "${envs[@]}" "$@" >"$log" 2>&1
  local rc=$?
  local secs=$(( $(date +%s) - t0 ))
  local wrong
  wrong=$(grep -h "Out of bounds values" "$log" | tail -1 | sed 's/.*: //')
  printf '%-60s exit %3d  %5ds  %s\n' "$name" "$rc" "$secs" "${wrong:-no summary line}" | tee -a "$summary"
  [ $rc -eq 0 ] || failed=1
}

if [ "$what" = issue2 ] || [ "$what" = all ]; then
  run issue2-shm-4ranks PLEXUS_TRANSPORTS=shm -- "$bin/plexus-run" -n 4 "$bin/all_reduce_perf" -b 8 -e 64M -f 4 -d all -o all
  run issue2-tcp-4ranks PLEXUS_TRANSPORTS=tcp -- "$bin/plexus-run" -n 4 "$bin/all_reduce_perf" -b 8 -e 64M -f 4 -d all -o all
fi

if [ "$what" = issue4 ] || [ "$what" = all ]; then
  declare -A tool=([allreduce]=all_reduce_perf [allgather]=all_gather_perf
                   [reducescatter]=reduce_scatter_perf [broadcast]=broadcast_perf
                   [reduce]=reduce_perf [alltoall]=alltoall_perf [gather]=gather_perf
                   [scatter]=scatter_perf)
  for coll in allreduce allgather reducescatter broadcast reduce alltoall gather scatter; do
    algos=$("$bin/plexus-topo" plan --coll "$coll" --list 2>/dev/null || true)
    [ -n "$algos" ] || { echo "no algorithm list for $coll" | tee -a "$summary"; failed=1; continue; }
    ops="-o all"
    case $coll in allgather|broadcast|alltoall|gather|scatter) ops="" ;; esac
    for alg in $algos; do
      for n in 5 8; do
        run "issue4-$coll-$alg-${n}ranks" PLEXUS_ALGO="$coll:$alg" -- \
          "$bin/plexus-run" -n $n "$bin/${tool[$coll]}" -b 8 -e 16M -f 8 -d all $ops -n 2 -w 1
      done
    done
  done
fi
echo "logs in $out"
exit $failed
