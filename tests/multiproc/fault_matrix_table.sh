#!/usr/bin/env bash
# Runs the fault matrix (multiproc.Cases/FaultMatrix.*, fault_matrix_test.cpp) in a build folder
# and prints its outcomes as the Markdown table of docs/reliability.md ("Fault matrix"): one row per
# fault x transport x phase with the slowest survivor's time to error and what rank 0 (or, when it
# has no error, another survivor) and the victim reported. Error texts are cut at 300 characters.
# Usage: tests/multiproc/fault_matrix_table.sh [build folder, default build]
set -euo pipefail
build=${1:-build}
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
export PLEXUS_SOCKET_IFNAME=lo FI_TCP_IFACE=lo UCX_NET_DEVICES=lo
status=0
(cd "$build" && PLEXUS_FAULT_MATRIX_OUT="$rows" ctest -R 'FaultMatrix' >&2) || status=$?
echo "| fault | transport | phase | time to error | survivor's outcome | victim |"
echo "|---|---|---|---|---|---|"
# FAULT-MATRIX|fault|transport|phase|time|survivor|victim: ...
sort -t'|' -k2,2 -k3,3 -k4,4 "$rows" | awk -F'|' '
  function cut(s) { gsub(/\|/, "/", s); return length(s) > 300 ? substr(s, 1, 300) "..." : s }
  { printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, cut($6), cut(substr($7, 9)) }'
exit $status
