#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in a build folder of their own
# (build-fuzz; the regular gcc build is not touched) and runs each for S seconds from its seed
# corpus in tests/fuzz/corpus/<target>/, two at a time. A crash, leak, sanitizer report, timeout or
# out-of-memory fails the script and prints the reproducer's path; copy it into the target's corpus
# folder once the bug is fixed (the regular CTest fuzz_corpus_replay then runs it for good).
#
#   bash scripts/fuzz.sh [--seconds S] [--jobs J] [target ...]     (default: 60 s each, 2 jobs)
#
# Knobs: PLEXUS_FUZZ_BUILD_DIR (default build-fuzz), PLEXUS_FUZZ_OUT (where new inputs and crash
# files go, default <build>/fuzz-out), PLEXUS_FUZZ_NO_INSTALL=1 (do not install clang).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
jobs=2
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(bootstrap_root bootstrap_peer unique_id nccl_xml topology_json plan_file env perf_options)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# clang and its libFuzzer runtime (Debian 12: clang 14; libclang_rt.fuzzer is in libclang-rt-14-dev).
if [ "${PLEXUS_FUZZ_NO_INSTALL:-0}" != 1 ]; then
  need=()
  for p in clang libclang-rt-14-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "fuzz.sh: installing ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
fi

build=${PLEXUS_FUZZ_BUILD_DIR:-build-fuzz}
out=${PLEXUS_FUZZ_OUT:-$build/fuzz-out}
start=$(date +%s)
mkdir -p "$build"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
# -O1 and line tables only: the build is most of the script's time on CI's two cores.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPLEXUS_FUZZ=ON \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -gline-tables-only" -DCMAKE_C_FLAGS_RELEASE="-O1 -gline-tables-only" \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang "${launcher[@]}" >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" --parallel "$(nproc)" --target plexus_fuzzers
echo "fuzz.sh: built in $(( $(date +%s) - start )) s; running ${#targets[@]} targets for ${seconds} s each, $jobs at a time"

# One target: a scratch corpus (the seeds plus what this run finds; the tree is not written),
# crash files under $out/<target>/. Prints one line; returns non-zero on a finding.
run_one() {
  local t=$1 dir="$out/$1"
  rm -rf "$dir" && mkdir -p "$dir/corpus" "$dir/crashes"
  local dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
      PLEXUS_DEBUG=NONE "$build/bin/fuzz_$t" "$dir/corpus" "tests/fuzz/corpus/$t" "${dict[@]}" \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=8192 \
      -artifact_prefix="$dir/crashes/" -print_final_stats=1 >"$dir/log" 2>&1; then
    echo "fuzz.sh: $t: clean ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$') runs)"
  else
    echo "fuzz.sh: $t: FOUND A BUG; reproduce with: $build/bin/fuzz_$t $(ls "$dir"/crashes/* 2>/dev/null | head -1)"
    grep -m1 -E 'ERROR: |runtime error|invariant broken|uncaught|deadly signal' "$dir/log" || true
    echo "fuzz.sh: log: $dir/log"
    return 1
  fi
}

failed=0
pids=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || failed=1; done
  run_one "$t" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done
echo "fuzz.sh: done in $(( $(date +%s) - start )) s"
exit $failed
