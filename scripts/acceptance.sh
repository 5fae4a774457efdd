#!/usr/bin/env bash
# Runs the acceptance commands of the issues that need long multi-process sweeps and writes one
# log per command plus a summary. Usage:
#   scripts/acceptance.sh [build-dir] [issue2|issue4|issue5|transports-busbw|all]
# (default build: build). Not part of CI (it takes a long time on a small machine). issue5 and
# transports-busbw need the plugins (ofi, ucx) built in that build directory.
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
# Every network transport selected by environment only (issue 5): 4 ranks, every datatype, 8 B to
# 64 MB (x4 steps, 5 timed iterations: the sweep with nccl-tests' default 1 MB steps would take
# hours over tcp on two cores).
transports=(
  "tcp PLEXUS_TRANSPORTS=tcp"
  "tcp-4sockets PLEXUS_TRANSPORTS=tcp PLEXUS_NSOCKS_PERTHREAD=4"
  "ofi-tcp-rxm PLEXUS_TRANSPORTS=ofi FI_PROVIDER=tcp;ofi_rxm FI_TCP_IFACE=lo"
  "ofi-shm PLEXUS_TRANSPORTS=ofi FI_PROVIDER=shm"
  "ucx-tcp PLEXUS_TRANSPORTS=ucx UCX_TLS=tcp UCX_NET_DEVICES=lo"
  "ucx-posix-cma PLEXUS_TRANSPORTS=ucx UCX_TLS=posix,cma"
  "shm PLEXUS_TRANSPORTS=shm"
)
if [ "$what" = issue5 ] || [ "$what" = all ]; then
  for t in "${transports[@]}"; do
    read -r name envs <<<"$t"
    # shellcheck disable=SC2086
    run "issue5-$name-4ranks" $envs -- "$bin/plexus-run" -n 4 "$bin/all_reduce_perf" -b 8 -e 64M \
      -f 4 -d all -n 5 -w 1
  done
fi

# busbw at 64 MB, 2 ranks on loopback, every transport in one run (issue 5's closing note).
if [ "$what" = transports-busbw ] || [ "$what" = all ]; then
  table="$out/transports-busbw.txt"
  printf '%-16s %10s %10s %8s\n' transport "time(us)" "busbw" "#wrong" | tee "$table"
  for t in "${transports[@]}"; do
    read -r name envs <<<"$t"
    log="$out/busbw-$name.log"
    # shellcheck disable=SC2086
    env $envs "$bin/plexus-run" -n 2 --no-prefix "$bin/all_reduce_perf" -b 64M -e 64M -n 20 \
      -w 3 >"$log" 2>&1 || failed=1
    line=$(grep -E '^ +67108864 ' "$log" | tail -1)
    # shellcheck disable=SC2086
    printf '%-16s %10s %10s %8s\n' "$name" $(echo "$line" | awk '{print $6, $8, $9}') |
      tee -a "$table"
  done
fi
echo "logs in $out"
exit $failed
