#!/usr/bin/env bash
# PLEXUS_SYSTEM: 16 ranks over shm plan as the 16 GPUs of two DGX H100. The all-reduce algorithm
# the communicator's tuner picks at each size must be the one `plexus-topo tune --system` picks,
# and rank 0 must name the injected system in one INFO line.
#   system_injection_test.sh RUN ALL_REDUCE_PERF PLEXUS_TOPO
set -u
run=$1 perf=$2 topo=$3 system=dgx-h100:x2 n=16
export PLEXUS_SOCKET_IFNAME=${PLEXUS_SOCKET_IFNAME:-lo} PLEXUS_SLOTS=8 PLEXUS_SLOT_SIZE=128K
want=$("$topo" tune --system $system -n $n -b 8 -e 16M -f 16 --fifo-bytes 1M | awk '!/^#/{print $1, $2}')
out=$(PLEXUS_DEBUG=INFO PLEXUS_DEBUG_SUBSYS=TUNE,INIT PLEXUS_SYSTEM=$system timeout 240 "$run" -n $n \
  "$perf" -b 8 -e 16M -f 16 -n 1 -w 0 -d int32 -o sum 2>&1)
rc=$?
fail=0
[ $rc -eq 0 ] || { echo "FAIL: all_reduce_perf exited $rc"; fail=1; }
grep -q "Out of bounds values : 0 OK" <<<"$out" || { echo "FAIL: wrong values"; fail=1; }
lines=$(grep -c "PLEXUS_SYSTEM=$system injected" <<<"$out")
[ "$lines" -eq 1 ] || { echo "FAIL: $lines INFO lines name the injected system (want 1)"; fail=1; }
checked=0
while read -r bytes algo; do
  got=$(grep -E "^\[0\].*allreduce of [0-9]+ x 4 bytes on $n ranks" <<<"$out" |
    awk -v b="$bytes" '{for (i = 1; i <= NF; i++) if ($i == "of" && $(i+1) * 4 == b) {
      a = $(i+8); sub(",", "", a); print a; exit}}')
  [ -z "$got" ] && continue
  checked=$((checked + 1))
  if [ "$got" != "$algo" ]; then
    echo "FAIL: $bytes bytes: the communicator chose $got, plexus-topo tune --system $system $algo"
    fail=1
  else
    echo "ok: $bytes bytes: $algo"
  fi
done <<<"$want"
[ $checked -ge 4 ] || { echo "FAIL: only $checked sizes compared"; fail=1; }
[ $fail -ne 0 ] && grep -E "^\[0\]" <<<"$out" | tail -n 30
exit $fail
