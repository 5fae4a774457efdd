#!/usr/bin/env bash
# Launchers without a root address (issue 19; docs/launching.md), ctest multiproc.launcher:
#  1. mpirun -np 4 all_reduce_perf -b 8 -e 1M -f 4, no address variable: exit 0, 0 wrong, with the
#     tool built with MPI (rank 0's id by MPI_Bcast) and without (every rank derives a loopback
#     root from the job id because Open MPI says all 4 are on this host);
#  2. srun faked by its variables on one node (SLURM_NNODES=1): the same, 4 processes;
#  3. launcher variables that put the ranks on 2 hosts, no address: every rank fails within 5 s,
#     naming the launcher and PLEXUS_COMM_ID.
#   launcher_test.sh ALL_REDUCE_PERF [ALL_REDUCE_PERF_NOMPI]
# mpirun stays on loopback (btl self,vader; its out-of-band channel on lo). Skips (77) without
# mpirun.
set -u
perf=$1 nompi=${2:-}
export PLEXUS_SOCKET_IFNAME=lo
unset PLEXUS_COMM_ID MASTER_ADDR MASTER_PORT PLEXUS_RANK RANK SLURM_PROCID
fail=0
check_run() {  # NAME SECONDS-LIMIT OUTPUT-FILE RC
  local name=$1 limit=$2 out=$3 rc=$4 took=$5
  if [ "$rc" -ne 0 ] || [ "$(grep -c 'Out of bounds values : 0 OK' "$out")" -lt 1 ] || [ "$took" -gt "$limit" ]; then
    echo "FAIL: $name: exit $rc after $took s (limit $limit s)"
    tail -n 15 "$out"
    fail=1
  else
    echo "ok: $name: exit 0, 0 wrong, $took s"
  fi
}
tmp=$(mktemp -d /tmp/plexus-launcher-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if command -v mpirun >/dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
    OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_base_warn_component_unused=0
  for tool in "$perf" $nompi; do
    start=$(date +%s)
    timeout 120 mpirun -np 4 --oversubscribe --bind-to none -x PLEXUS_SOCKET_IFNAME \
      "$tool" -b 8 -e 1M -f 4 >"$tmp/mpirun.txt" 2>&1
    check_run "mpirun -np 4 $(basename "$tool") -b 8 -e 1M -f 4" 60 "$tmp/mpirun.txt" $? \
      $(($(date +%s) - start))
  done
else
  echo "SKIP (part 1): no mpirun here (Debian: openmpi-bin)"
fi
unset OMPI_MCA_btl OMPI_MCA_oob_tcp_if_include

# srun's variables on one node: every process derives the same loopback root.
start=$(date +%s)
pids=()
job=$((RANDOM + 4242))
for r in 0 1 2 3; do
  SLURM_PROCID=$r SLURM_NTASKS=4 SLURM_LOCALID=$r SLURM_NNODES=1 SLURM_JOB_ID=$job \
    SLURM_STEP_ID=0 timeout 120 "$perf" -b 8 -e 1M -f 4 >"$tmp/srun$r.txt" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
check_run "srun-like variables, 4 ranks on one node" 60 "$tmp/srun0.txt" $rc $(($(date +%s) - start))

# Ranks on 2 hosts and no address: every rank fails fast with the message (no root of its own).
for launcher in "Open MPI" Slurm; do
  start=$(date +%s%N)
  pids=()
  for r in 0 1 2 3; do
    if [ "$launcher" = Slurm ]; then
      vars=(SLURM_PROCID=$r SLURM_NTASKS=4 SLURM_LOCALID=$((r % 2)) SLURM_NNODES=2 SLURM_JOB_ID=7)
      tool=$perf
    else
      vars=(OMPI_COMM_WORLD_RANK=$r OMPI_COMM_WORLD_SIZE=4 OMPI_COMM_WORLD_LOCAL_RANK=$((r % 2))
        OMPI_COMM_WORLD_LOCAL_SIZE=2 OMPI_MCA_ess_base_jobid=7)
      tool=${nompi:-$perf}  # the MPI build would start MPI on these (fake) variables
    fi
    env "${vars[@]}" timeout 30 "$tool" -b 8 -e 1K >"$tmp/hosts$r.txt" 2>&1 &
    pids+=($!)
  done
  for r in 0 1 2 3; do
    wait "${pids[$r]}"
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $ms -gt 5000 ] ||
      ! grep -q "$launcher started this process as rank $r of 4, but no bootstrap root address" "$tmp/hosts$r.txt" ||
      ! grep -q "PLEXUS_COMM_ID=host:port" "$tmp/hosts$r.txt"; then
      echo "FAIL: $launcher variables on 2 hosts, rank $r: exit $rc after $ms ms"
      tail -n 5 "$tmp/hosts$r.txt"
      fail=1
    else
      echo "ok: $launcher variables on 2 hosts, rank $r: exit $rc within $ms ms: $(grep -o "$launcher started.*" "$tmp/hosts$r.txt" | cut -c1-120)..."
    fi
  done
done
exit $fail
