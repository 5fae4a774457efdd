#!/usr/bin/env bash
# Usage: scripts/sanitize.sh asan|asan-full|tsan [extra ctest arguments]
#
# Builds Plexus with a sanitizer (gcc -O2 -g1, no CUDA, only the test programs the job runs) in its
# own build folder (build-asan, build-tsan; PLEXUS_SANITIZE_BUILD_DIR overrides) and runs its tests:
#   asan  ASan + UBSan (-fno-sanitize-recover: the first finding fails the test) over the
#         multi-process suite on the built-in transports (shm, tcp, the mapped path), and over the
#         plugin transports (ofi, ucx) and tcp with 4 sockets the 3-rank collectives, a killed rank
#         and abort from another thread: CI's subset (docs/reliability.md, "Sanitizers").
#   asan-full  the same build over the whole multi-process suite on every transport (less the
#         megabyte cases on more than 2 ranks and the fault cases that only wait out the timeout).
#   tsan  TSan over the threaded paths: the engine's progress thread and async requests (engine,
#         C++ API), abort, several communicators in one process and ncclCommInitAll's threads
#         (api, multiproc p2p/group and fault tests), the same-process shm path (threads as
#         ranks). Suppressions (scripts/tsan.supp) name third-party code only.
# scripts/test.sh runs both after the main suite when it runs the whole suite (PLEXUS_SANITIZE_JOBS
# chooses: "asan tsan" by default, "" for none).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
[ $# -gt 0 ] && shift
case "$kind" in
  asan | asan-full) sanitize=address ;;
  tsan) sanitize=thread ;;
  *) echo "usage: scripts/sanitize.sh asan|asan-full|tsan [ctest arguments]" >&2; exit 2 ;;
esac
build=${PLEXUS_SANITIZE_BUILD_DIR:-build-${kind%-full}}
jobs=$(nproc)
launcher=()
if command -v ccache >/dev/null && [ -z "${PLEXUS_NO_CCACHE:-}" ]; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
t0=$(date +%s)
mkdir -p "$build"
# -g1 (line tables, no variables): a third less compile time than -g, and still whole stacks.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPLEXUS_WERROR=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1" \
  -DPLEXUS_SANITIZE=$sanitize -DPLEXUS_CUDA=OFF -DPLEXUS_BUILD_PERF=OFF \
  -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ "${launcher[@]}" >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
# What each job runs: the CTest selection, and the programs it needs.
# The multi-process suite less its megabyte-sized cases on more than 2 ranks (the same code paths
# as the 2-rank ones, at 3-10x the time under ASan) and less the fault-matrix cases that only wait
# out PLEXUS_TIMEOUT (init, stop); the perf-tool and scale tests need the perf tools, which this
# build leaves out. FlightRecorder.StoppedRankIsNamedByTheMergedReport starts its controller
# thread before the harness forks the ranks: GCC 12's ASan allocator has no fork handler, so a
# child can inherit its lock held by that thread and hang in malloc (seen in 2 of 4 runs; gdb: both
# of the child's threads in SizeClassAllocator64::GetFromAllocator); it runs in every other job.
most='LargeCollectives\.SeveralMegabytes/[3-9]ranks|FaultMatrix\..*(_init|_stop_[a-z]+)$|FlightRecorder\.StoppedRankIsNamedByTheMergedReport'
second=()
if [ "$kind" = asan-full ]; then
  targets=(plexus_multiproc_tests)
  select=(-R '^multiproc\.' -E "$most")
elif [ "$kind" = asan ]; then
  targets=(plexus_multiproc_tests)
  # CI's subset: all of that on the built-in transports, then a second pass over the others.
  select=(-R '^multiproc\.' -E "(ofi_|ucx_|tcp_4_sockets)|$most")
  second=(-R '^multiproc\.(Ranks/Collectives\.EveryTypeOpAndPlacement/3ranks_|Transports/KilledRank\.EveryOtherRankFailsNamingIt/|Transports/Abort\.NcclCommAbortFromAnotherThread[A-Za-z]*/)(ofi_|ucx_|tcp_4)')
else
  targets=(engine_test cpp_api_test nccl_extra_test nccl_errors_test shm_inproc_test
    multiproc_p2p_group_test multiproc_failure_test multiproc_fault_matrix_test multiproc_abort_test
    multiproc_small_all_reduce_test multiproc_single_copy_test)
  select=(-R '^(engine\.|CppApi\.|api\.NcclExtra\.|NcclErrors\.|transports\.ShmInproc\.|multiproc\.(Shm/PointToPoint|Transports/PointToPointOnEveryTransport\..*/(shm|tcp)$|PointToPoint\.|Group\.|Bootstrap\.|Mismatch\.|SmallAllReduce\.|(Ranks/SingleCopyRanks|SingleCopy)\.Auto|Transports/Abort\..*/(shm|tcp)$|Cases/FaultMatrix\..*/(shm|tcp)_(kill|stop)_mid$))'
    # Its check that abort gave back every thread counts TSan's own background thread.
    -E 'Abort\.NcclCommAbortFromAnotherThreadIsPromptAndFreesAll')
fi
# (Targets this tree does not have are left out.)
known=$(cmake --build "$build" --target help)
present=()
for t in "${targets[@]}"; do grep -qE "(^|[ .:])$t(:| |$)" <<<"$known" && present+=("$t"); done
cmake --build "$build" --parallel "$jobs" --target "${present[@]}"
t1=$(date +%s)
export PLEXUS_SOCKET_IFNAME=lo FI_TCP_IFACE=lo UCX_NET_DEVICES=lo
# The soak (multiproc.Transports/Soak.*) for 20 s per transport instead of 60.
export PLEXUS_SOAK_SECONDS=${PLEXUS_SOAK_SECONDS:-20}
# A finding ends the process with an error (also in forked ranks, which exit with _exit and so
# never reach the sanitizer's exit-time checks).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:halt_on_error=1:detect_leaks=1:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=99:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp}
status=0
(cd "$build" && ctest --output-on-failure --timeout 600 -j "$jobs" "${select[@]}" "$@") || status=$?
if [ ${#second[@]} -gt 0 ]; then
  (cd "$build" && ctest --output-on-failure --timeout 600 -j "$jobs" "${second[@]}" "$@") || status=$?
fi
t2=$(date +%s)
echo "sanitize.sh $kind: build $((t1 - t0)) s, tests $((t2 - t1)) s, ctest exit $status"
exit $status
