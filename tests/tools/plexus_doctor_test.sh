#!/usr/bin/env bash
# plexus-doctor's verdicts on hostile settings built for the test, and on a clean host.
#   plexus_doctor_test.sh CASE DOCTOR [PLEXUS_RUN] [SOURCE_DIR]
# CASE: clean, json, tiny_devshm, low_nofile, wrong_ifname, shm_budget, topo_file, launched.
# Exit 0 pass, 1 fail, 77 skip (CTest SKIP_RETURN_CODE).
set -u
case_name=$1 doctor=$2 run=${3:-} src=${4:-}
fail=0
check() {  # check DESCRIPTION COMMAND...: records a failure when COMMAND fails
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}
has() { grep -Eq -- "$2" <<<"$1"; }
# doctor [ARGS...]: runs the doctor, sets $out and $rc
doctor() { out=$("$doctor" "$@" 2>&1); rc=$?; echo "$out"; }

case $case_name in
clean)
  doctor --ranks 4
  check "exit status 0 (got $rc)" test $rc -eq 0
  check "no FAIL line" bash -c '! grep -q "^FAIL" <<<"$0"' "$out"
  check "one line per check, 12 checks" test "$(grep -cE '^(OK|WARN|FAIL|SKIP) ' <<<"$out")" -eq 12
  check "shm.size sized for 4 ranks" has "$out" '^(OK|WARN) +shm.size +/dev/shm .* free; 4 local ranks need'
  check "no launcher: no ranks.* checks" bash -c '! grep -q "ranks\." <<<"$0"' "$out"
  ;;
json)
  doctor --json --ranks 2
  check "exit status 0 (got $rc)" test $rc -eq 0
  check "JSON array with every check" python3 -c '
import json, sys
a = json.loads(sys.argv[1])
want = {"net.interfaces", "shm.size", "shm.budget", "limits.files", "limits.memlock",
        "kernel.ptrace_scope", "mem.hugepages", "rdma.devices", "transports.plugins",
        "transports.choice", "topo.affinity", "topo.pcie"}
names = {o["name"] for o in a}
assert names == want, names ^ want
for o in a:
    assert o["verdict"] in ("OK", "WARN", "FAIL", "SKIP"), o
    assert o["found"], o
    assert set(o) >= {"name", "verdict", "found", "fix"}, o
' "$out"
  ;;
tiny_devshm)
  # A 1 MiB /dev/shm in a private mount namespace (root or user namespaces needed).
  if ! unshare -m true 2>/dev/null; then
    echo "SKIP: unshare -m is not permitted here (needs root or user namespaces)"
    exit 77
  fi
  inner='mount -t tmpfs -o size=1M tmpfs /dev/shm || exit 77
    "$0" --ranks 64; echo "rc=$?"
    PLEXUS_TRANSPORTS=shm,ofi,tcp "$0" --ranks 64; echo "rc=$?"'
  out=$(unshare -m sh -c "$inner" "$doctor" 2>&1)
  rc=$?
  echo "$out"
  [ $rc -eq 77 ] && { echo "SKIP: cannot mount a tmpfs in the namespace"; exit 77; }
  first=$(sed -n '1,/^rc=/p' <<<"$out") second=$(sed -n '/^rc=/,$p' <<<"$out" | tail -n +2)
  check "default transports: WARN shm.size (memfd FIFOs are not bounded by /dev/shm)" \
    has "$first" '^WARN +shm.size +/dev/shm 1.0 MiB free; 64 local ranks need ~.* -> fix: '
  check "default transports: exit 0" has "$first" '^rc=0$'
  check "ofi in the order: FAIL shm.size naming ofi" \
    has "$second" '^FAIL +shm.size +/dev/shm 1.0 MiB free; 64 local ranks need .*ofi.* -> fix: enlarge it'
  check "ofi in the order: exit 1" has "$second" '^rc=1$'
  ;;
low_nofile)
  out=$(ulimit -n 64 && "$doctor" --ranks 64 2>&1; echo "rc=$?")
  echo "$out"
  check "hard limit 64 < need: FAIL limits.files" \
    has "$out" '^FAIL +limits.files +ulimit -n 64 \(hard 64\); a rank of 64 needs ~512 .* -> fix: raise it'
  check "exit 1" has "$out" '^rc=1$'
  out=$(ulimit -Sn 64 && "$doctor" --ranks 64 2>&1)
  echo "$out"
  if [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 512 ]; then
    check "soft 64, hard enough: OK (the runtime raises the soft limit)" \
      has "$out" '^OK +limits.files +ulimit -n 64 .*raises the soft limit'
  fi
  ;;
wrong_ifname)
  PLEXUS_SOCKET_IFNAME=nosuch0 doctor
  check "FAIL net.interfaces naming the value and the interfaces" \
    has "$out" '^FAIL +net.interfaces +PLEXUS_SOCKET_IFNAME=nosuch0 matches no interface .*interfaces: .*lo.* -> fix: '
  check "exit 1 (got $rc)" test $rc -eq 1
  out=$(env -u PLEXUS_SOCKET_IFNAME NCCL_SOCKET_IFNAME=nosuch1 "$doctor" 2>&1)
  check "NCCL_SOCKET_IFNAME is read too" has "$out" '^FAIL +net.interfaces +NCCL_SOCKET_IFNAME=nosuch1'
  ;;
shm_budget)
  PLEXUS_SHM_BUDGET=1M doctor --ranks 64
  check "FAIL shm.budget: init would fail" \
    has "$out" '^FAIL +shm.budget +64 ranks x 63 peers .*init will fail.* -> fix: raise PLEXUS_SHM_BUDGET'
  check "exit 1 (got $rc)" test $rc -eq 1
  PLEXUS_SLOT_SIZE=100 doctor --ranks 4
  check "a bad PLEXUS_SLOT_SIZE: FAIL naming it, not a doctor bug" \
    has "$out" '^FAIL +shm.budget +PLEXUS_SLOT_SIZE=100 must be a multiple of 64.* -> fix: correct the variable'
  PLEXUS_TRANSPORTS=^shm doctor --ranks 4
  check "shm not in the order: SKIP shm.size and shm.budget" \
    test "$(grep -cE '^SKIP +shm\.(size|budget) ' <<<"$out")" -eq 2
  ;;
topo_file)
  PLEXUS_TOPO_FILE=$src/tests/data/nccl-dump-hgx4.xml doctor
  check "topo.affinity from the file" \
    has "$out" '^OK +topo.affinity +GPU0->NIC0 PIX \(numa 0/0\), GPU1->NIC0 PIX \(numa 0/0\), GPU2->NIC1 PIX \(numa 1/1\), GPU3->NIC1 PIX \(numa 1/1\) \(PLEXUS_TOPO_FILE='
  check "topo.pcie names shared switches" has "$out" '^OK +topo.pcie +6 GPU pair\(s\) under shared PCIe switches'
  # The same machine without the NIC of socket 1: its GPUs reach a NIC across sockets only.
  tmp=$(mktemp --suffix=.xml)
  sed '/busid="0000:93:00.0"/,/<\/pci>/d' "$src/tests/data/nccl-dump-hgx4.xml" >"$tmp"
  PLEXUS_TOPO_FILE=$tmp doctor
  rm -f "$tmp"
  check "a GPU far from every NIC: WARN topo.affinity naming it" \
    has "$out" '^WARN +topo.affinity +.*GPU2->NIC[0-9] SYS \(numa 1/0\).*: GPU2, GPU3 reach their nearest NIC across sockets \(SYS\) -> fix: '
  check "a WARN alone: exit 0 (got $rc)" test $rc -eq 0
  PLEXUS_TOPO_FILE=/nonexistent.xml doctor
  check "an unreadable file: FAIL topo.affinity naming it" has "$out" '^FAIL +topo.affinity +PLEXUS_TOPO_FILE=/nonexistent.xml'
  ;;
launched)
  out=$(timeout 120 "$run" -n 4 "$doctor" 2>&1)
  rc=$?
  echo "$out"
  check "exit status 0 (got $rc)" test $rc -eq 0
  check "one merged report: one net.interfaces line" test "$(grep -c 'net.interfaces' <<<"$out")" -eq 1
  check "only rank 0 prints" bash -c '! grep -qE "^\[[1-3]\]" <<<"$0"' "$out"
  check "reachability OK for 4 ranks" has "$out" '^\[0\] OK +ranks.reach +4 ranks \(plexus-run\) reached each other'
  check "clock skew measured" has "$out" '^\[0\] OK +ranks.clock_skew +wall clocks of 4 ranks within'
  check "sized for the launcher's 4 local ranks" has "$out" 'shm.size .* 4 local ranks need'
  out=$(timeout 120 "$run" --no-prefix -n 2 "$doctor" --json 2>&1)
  # (A figure that moved between the ranks' reads, such as /dev/shm's free space while other
  # tests run, splits its check into one object per group of ranks: the union must be both.)
  check "--json under plexus-run -n 2: one array, every check for ranks 0 and 1" python3 -c '
import json, sys
a = json.loads(sys.argv[1])
ranks = {}
for o in a:
    ranks.setdefault(o["name"], []).extend(o["ranks"])
assert len(ranks) == 14, sorted(ranks)
assert all(sorted(r) == [0, 1] for r in ranks.values()), ranks
assert {"ranks.reach", "ranks.clock_skew"} <= set(ranks), sorted(ranks)
' "$out"
  # Rank 1 with ulimit -n 64: rank 0's report splits limits.files by ranks, rank 1 prints its FAIL.
  out=$(timeout 120 "$run" -n 3 sh -c \
    'if [ "$PLEXUS_RANK" = 1 ]; then ulimit -n 64; fi; exec "$0" --ranks 64' "$doctor" 2>&1)
  rc=$?
  echo "$out"
  check "one rank failing: the run fails (got $rc)" test $rc -ne 0
  check "rank 0 reports the others' OK once" has "$out" '^\[0\] OK +limits.files +\[ranks 0,2\] ulimit -n'
  check "rank 0 reports rank 1's FAIL" has "$out" '^\[0\] FAIL +limits.files +\[rank 1\] ulimit -n 64 \(hard 64\)'
  check "rank 1 prints its own FAIL" has "$out" '^\[1\] FAIL +limits.files +\[rank 1\] ulimit -n 64'
  check "rank 1 prints nothing else" test "$(grep -c '^\[1\]' <<<"$out")" -eq 1
  check "rank 2 prints nothing" bash -c '! grep -q "^\[2\]" <<<"$0"' "$out"
  # Ranks that cannot bootstrap each print their own report, and fail.
  out=$(PLEXUS_SOCKET_IFNAME=nosuch0 timeout 120 "$run" -n 2 "$doctor" --timeout 20 2>&1)
  rc=$?
  echo "$out"
  check "wrong interface under plexus-run: exit non-zero (got $rc)" test $rc -ne 0
  check "a rank names its bootstrap failure" \
    has "$out" '^\[[01]\] FAIL +ranks.reach +\[rank [01]\] rank [01] of 2 \(plexus-run, root .*nosuch0'
  ;;
*)
  echo "unknown case $case_name"
  exit 1
  ;;
esac
exit $fail
