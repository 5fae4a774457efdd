#!/usr/bin/env bash
# The scale test (ctest -L scale, names multiproc.scale.*): NRANKS processes on this host run a perf
# tool once per algorithm of its collective, forced with PLEXUS_ALGO, at two sizes; every run must
# exit 0 and report 0 wrong values (the tools check every element exactly).
#   scale_test.sh RUN PERF NRANKS ALGO...
# RUN is plexus-run (NRANKS processes) or the word "threads" (NRANKS threads of one PERF process,
# PERF -t NRANKS: one communicator per thread, as ncclCommInitAll makes them).
set -u
run=$1 perf=$2 n=$3
shift 3
export PLEXUS_SOCKET_IFNAME=${PLEXUS_SOCKET_IFNAME:-lo}
fail=0
for algo in "$@"; do
  start=$(date +%s)
  args=(-b 1K -e 256K -f 256 -n 1 -w 1 -d int32 -o sum)
  if [ "$run" = threads ]; then
    out=$(PLEXUS_ALGO=$algo timeout 240 "$perf" -t "$n" "${args[@]}" 2>&1)
  else
    out=$(PLEXUS_ALGO=$algo timeout 240 "$run" -n "$n" "$perf" "${args[@]}" 2>&1)
  fi
  rc=$?
  if [ $rc -ne 0 ] || ! grep -q "Out of bounds values : 0 OK" <<<"$out"; then
    echo "FAIL: $(basename "$perf") with PLEXUS_ALGO=$algo on $n ranks ($(basename "$run")): exit $rc"
    tail -n 20 <<<"$out"
    fail=1
  else
    echo "ok: $(basename "$perf") PLEXUS_ALGO=$algo, $n ranks ($(basename "$run")), $(($(date +%s) - start)) s"
  fi
done
exit $fail
