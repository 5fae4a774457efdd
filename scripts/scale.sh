#!/usr/bin/env bash
# Scaling table of one-host runs (docs/scale.md): for each rank count, all_reduce_perf over shm with
# one algorithm forced, and per rank the init time (Communicator init, slowest rank), connected
# peers, peak RSS, shared memory and descriptors, from the PLEXUS_DEBUG=INFO lines of each rank.
#
#   scripts/scale.sh [-a ALGO] [-e MAXBYTES] [-b BUILD] [RANKS...]   (default: nvls 1M build 8 64 144 288 576)
#
# Prints a Markdown table on stdout and one progress line per run on stderr (step i/N, ranks, time
# so far); exits non-zero when a run fails or reports wrong values. Leaves no processes or /dev/shm
# files behind (shm FIFOs are anonymous memory).
set -u
algo=nvls maxb=1M build=build
while getopts a:e:b: o; do
  case $o in a) algo=$OPTARG ;; e) maxb=$OPTARG ;; b) build=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
ranks=${*:-"8 64 144 288 576"}
log=$(mktemp -d /tmp/plexus-scale.XXXXXX)
trap 'rm -rf "$log"' EXIT
export PLEXUS_SOCKET_IFNAME=${PLEXUS_SOCKET_IFNAME:-lo} PLEXUS_DEBUG=INFO PLEXUS_DEBUG_SUBSYS=BOOTSTRAP
echo "| ranks | algo | wall s | init ms (slowest) | peers/rank (max) | peak RSS MiB (median / max) | shm MiB/rank (median / max) | fds/rank (max) | host shm peak MiB | wrong |"
echo "|---|---|---|---|---|---|---|---|---|---|"
status=0
steps=$(echo $ranks | wc -w) step=0 began=$(date +%s)
for n in $ranks; do
  step=$((step + 1))
  echo "scale.sh: step $step/$steps: $n ranks, $algo, -e $maxb ($(($(date +%s) - began)) s so far)" >&2
  out=$log/run-$n.txt
  peak=0
  start=$(date +%s.%N)
  PLEXUS_ALGO=$algo "$build/bin/plexus-run" -n "$n" "$build/bin/all_reduce_perf" -b 8 -e "$maxb" \
    -f 4 -n 2 -w 1 -d int32 >"$out" 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    s=$(awk '/^Shmem:/{print int($2/1024)}' /proc/meminfo)
    [ "$s" -gt "$peak" ] && peak=$s
    sleep 1
  done
  wait $pid
  rc=$?
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  [ $rc -ne 0 ] && status=1
  grep -q "Out of bounds values : 0 OK" "$out" || status=1
  wrong=$(grep -q "Out of bounds values : 0 OK" "$out" && echo 0 || echo "FAIL rc=$rc")
  python3 - "$out" "$n" "$algo" "$wall" "$peak" "$wrong" <<'PY'
import re, statistics, sys
path, n, algo, wall, peak, wrong = sys.argv[1:]
text = open(path, errors="replace").read()
init = [float(m) for m in re.findall(r" initialised .* in ([0-9.]+) ms", text)]
rows = re.findall(r"(\d+) peers connected .*?peak rss ([0-9.]+) MiB .*?shm ([0-9.]+) MiB\), (\d+) fds", text)
peers = [int(r[0]) for r in rows]; rss = [float(r[1]) for r in rows]
shm = [float(r[2]) for r in rows]; fds = [int(r[3]) for r in rows]
def mm(v): return f"{statistics.median(v):.1f} / {max(v):.1f}" if v else "-"
print(f"| {n} | {algo} | {float(wall):.1f} | {max(init, default=0):.0f} | {max(peers, default=0)} | "
      f"{mm(rss)} | {mm(shm)} | {max(fds, default=0)} | {peak} | {wrong} |")
PY
  [ $rc -ne 0 ] && tail -5 "$out" >&2
done
exit $status
