#!/usr/bin/env bash
# Every algorithm of every collective at one rank count, as processes (plexus-run -n N) and as
# threads of one process (PERF -t N): each run forces one algorithm with PLEXUS_ALGO and must exit
# 0 with 0 wrong values (the perf tools check every element exactly). Prints a Markdown table.
#
#   scripts/scale_matrix.sh [-n RANKS] [-e MAXBYTES] [-d TYPES] [-m MODES] [-c COLLS] [-a ALGOS]
#                           [-b BUILD]
#     defaults: 576, 1M, int32, "processes threads", "allreduce allgather reducescatter broadcast",
#     every algorithm of each collective (-a "tree rhd": only those, where the collective has them)
#
# In threads mode the descriptor limit is raised for the run (see below). Sizes are -b 8 -e MAXBYTES -f 4 -n 2 -w 1. One-shot all-reduce (every rank reads every rank's
# whole input) is capped at 16K: at 576 ranks and 1M it would move 331 GB per call. Exits non-zero
# when any run fails. Runs over this host's shm (PLEXUS_SOCKET_IFNAME=lo); leaves no processes.
set -u
n=576 maxb=1M types=int32 modes="processes threads" build=build only=""
colls="allreduce allgather reducescatter broadcast"
while getopts n:e:d:m:c:a:b: o; do
  case $o in
  n) n=$OPTARG ;; e) maxb=$OPTARG ;; d) types=$OPTARG ;; m) modes=$OPTARG ;;
  c) colls=$OPTARG ;; a) only=$OPTARG ;; b) build=$OPTARG ;; *) exit 2 ;;
  esac
done
export PLEXUS_SOCKET_IFNAME=${PLEXUS_SOCKET_IFNAME:-lo}
log=$(mktemp -d /tmp/plexus-scale-matrix.XXXXXX)
trap 'rm -rf "$log"' EXIT
declare -A perf=([allreduce]=all_reduce_perf [allgather]=all_gather_perf
  [reducescatter]=reduce_scatter_perf [broadcast]=broadcast_perf)
declare -A algos=([allreduce]="ring tree rhd oneshot twoshot nvls hier"
  [allgather]="ring recdoubling bruck direct" [reducescatter]="ring rechalving direct"
  [broadcast]="chain binomial")
echo "| ranks | mode | collective | algorithm | sizes | types | wall s | exit | wrong |"
echo "|---|---|---|---|---|---|---|---|---|"
status=0
for mode in $modes; do
  for coll in $colls; do
    for algo in ${algos[$coll]}; do
      [ -n "$only" ] && [[ " $only " != *" $algo "* ]] && continue
      e=$maxb
      [ "$coll/$algo" = allreduce/oneshot ] && e=16K
      tool="$build/bin/${perf[$coll]}"
      args=(-b 8 -e "$e" -f 4 -n 2 -w 1 -d "$types")
      out=$log/$mode-$coll-$algo.txt
      start=$(date +%s.%N)
      if [ "$mode" = threads ]; then
        # One process holds every rank's connections: 576 ranks x 575 peers of an all-to-all
        # plan are 662k socket ends, above the usual 20k-64k descriptor limit. Raise it as far
        # as the kernel allows (fs.nr_open; root may raise the hard limit, others get the hard).
        (ulimit -n "$(cat /proc/sys/fs/nr_open)" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
          PLEXUS_ALGO=$algo exec "$tool" -t "$n" "${args[@]}") >"$out" 2>&1
      else
        PLEXUS_ALGO=$algo "$build/bin/plexus-run" -n "$n" "$tool" "${args[@]}" >"$out" 2>&1
      fi
      rc=$?
      wall=$(echo "$(date +%s.%N) - $start" | bc)
      wrong=0
      grep -q "Out of bounds values : 0 OK" "$out" || wrong=$(grep -o "Out of bounds values : [0-9]*" "$out" | awk '{print $NF}' | head -1)
      [ -z "$wrong" ] && wrong="no result"
      if [ $rc -ne 0 ] || [ "$wrong" != 0 ]; then
        status=1
        tail -5 "$out" | sed 's/^/    /' >&2
      fi
      printf '| %s | %s | %s | %s | 8..%s x4 | %s | %.0f | %s | %s |\n' "$n" "$mode" "$coll" "$algo" \
        "$e" "$types" "$wall" "$rc" "$wrong"
    done
  done
done
exit $status
