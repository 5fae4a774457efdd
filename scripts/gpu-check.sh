#!/usr/bin/env bash
# The device script (issue 13, scope 9): everything Plexus checks on a GPU, in one run on a lent
# one-H100 machine (bare, no network), inside 8 minutes including the build. Each step has its own
# time limit and ends with one line "PASS|FAIL|SKIPPED <step> ..." in the log and in the summary;
# steps that no longer fit the time budget are SKIPPED (budget). Nothing here changes the GPU's
# settings.
#
#   scripts/gpu-check.sh --dry-run        print the steps and their commands, run nothing
#   scripts/gpu-check.sh --prepare-deps   (here, once) copy the build dependencies the device image
#                                         may lack (nlohmann-json, CLI11, pugixml, GoogleTest,
#                                         pkg-config) from this machine's packages into .gpu-deps/,
#                                         ignored by git; carry it with the device tool's `carry`
#   scripts/gpu-check.sh                  run every step (on the device machine)
#
# Output goes to $OUT (the device tool's folder; ./build-gpu-out, ignored by git, when unset):
# gpu-check.log (every step's output), summary.txt (step lines, tables, bandwidth figures),
# build.log, ctest-cuda.log.
# Environment: GPU_CHECK_BUDGET (seconds for the whole run, default 460), GPU_CHECK_BUILD_DIR
# (default build-gpu), GPU_CHECK_JOBS (build jobs, default all cores), GPU_CHECK_SKIP_BUILD=1
# (use the build directory as it is: a rerun, or a trial of the steps on a machine without GPU).
# GPU_CHECK_STEPS='copy_bw|torch' runs only the steps whose names match (the others: SKIPPED).
#
# Device tool call (from the repository root, after --prepare-deps):
#   run(command="bash scripts/gpu-check.sh", carry=[".gpu-deps"], timeout_s=590)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY_RUN=0
MODE=run
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --prepare-deps) MODE=prepare ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "gpu-check: unknown argument '$arg' (--dry-run, --prepare-deps, --help)" >&2
      exit 2
      ;;
  esac
done

DEPS="$ROOT/.gpu-deps"

# --- --prepare-deps: the dependency prefix that travels with the working tree ------------------
prepare_deps() {
  local packages=(nlohmann-json3-dev libcli11-dev libpugixml-dev libpugixml1v5 libgtest-dev
    libgmock-dev pkgconf pkgconf-bin libpkgconf3)
  rm -rf "$DEPS"
  mkdir -p "$DEPS"
  local p f n=0
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      echo "gpu-check: package $p is not installed here (scripts/install-deps.sh installs it)" >&2
      return 1
    fi
    while IFS= read -r f; do
      case "$f" in /usr/share/doc/* | /usr/share/man/* | /usr/src/* | /usr/share/lintian/*) continue ;; esac
      [ -f "$f" ] || continue
      mkdir -p "$DEPS$(dirname "$f")"
      cp -L "$f" "$DEPS$f"
      n=$((n + 1))
    done < <(dpkg -L "$p")
  done
  local exclude="$ROOT/.git/info/exclude"
  if [ -d "$ROOT/.git" ] && ! grep -qx '/.gpu-deps/' "$exclude" 2>/dev/null; then
    echo '/.gpu-deps/' >>"$exclude"
  elif [ -f "$ROOT/.git" ]; then
    # A worktree: its exclude file lives in the common git directory.
    exclude="$(git -C "$ROOT" rev-parse --git-common-dir)/info/exclude"
    grep -qx '/.gpu-deps/' "$exclude" 2>/dev/null || echo '/.gpu-deps/' >>"$exclude"
  fi
  echo "gpu-check: copied $n files ($(du -sh "$DEPS" | cut -f1)) into $DEPS; pass" \
    "carry=[\".gpu-deps\"] to the device tool"
}

if [ "$MODE" = prepare ]; then
  prepare_deps
  exit $?
fi

# --- the run ----------------------------------------------------------------------------------
OUT=${OUT:-$ROOT/build-gpu-out}
BUILD=${GPU_CHECK_BUILD_DIR:-$ROOT/build-gpu}
BUDGET=${GPU_CHECK_BUDGET:-460}
JOBS=${GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 8)}
LOG="$OUT/gpu-check.log"
SUMMARY="$OUT/summary.txt"
START=$(date +%s)
BIN="$BUILD/bin"
# Loopback only: the machine has no network, and tests talk to themselves.
export PLEXUS_SOCKET_IFNAME=lo NCCL_SOCKET_IFNAME=lo FI_TCP_IFACE=lo UCX_NET_DEVICES=lo
# Tables and figures between steps, outside $OUT (the device tool brings back at most 8 files).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export ROOT OUT BUILD JOBS BIN DEPS WORK

if [ "$DRY_RUN" = 0 ]; then
  mkdir -p "$OUT"
  : >"$LOG"
  : >"$SUMMARY"
fi

say() { # to the terminal, the log and the summary
  echo "$*"
  if [ "$DRY_RUN" = 0 ]; then
    echo "$*" >>"$LOG"
    echo "$*" >>"$SUMMARY"
  fi
}

DRY_SHOWN=""
PASSED=0
FAILED=0
SKIPPED=0
# step NAME MAX_SECONDS MIN_SECONDS FUNCTION [ARGS...]: runs FUNCTION in a child bash under
# `timeout` (the whole process group is stopped at the limit), output appended to the log.
step() {
  local name=$1 max=$2 min=$3
  shift 3
  if [ "$DRY_RUN" = 1 ]; then
    echo "step $name (at most ${max}s; skipped when under ${min}s of the budget remain): $*"
    if [[ " $DRY_SHOWN " != *" $1 "* ]]; then
      declare -f "$1" | sed -n '3,$p' | sed '$d' | sed 's/^/    | /'
      DRY_SHOWN="$DRY_SHOWN $1"
    fi
    return 0
  fi
  if [ -n "${GPU_CHECK_STEPS:-}" ] && ! [[ "$name" =~ ^($GPU_CHECK_STEPS)$ ]]; then
    say "SKIPPED $name (not in GPU_CHECK_STEPS)"
    SKIPPED=$((SKIPPED + 1))
    return 0
  fi
  local now left limit rc t0
  now=$(date +%s)
  left=$((BUDGET - (now - START) - 10))
  if [ "$left" -lt "$min" ]; then
    say "SKIPPED $name (budget: ${left}s left of ${BUDGET}s, needs ${min}s)"
    SKIPPED=$((SKIPPED + 1))
    return 0
  fi
  limit=$((max < left ? max : left))
  echo "=== $name (limit ${limit}s) ===" | tee -a "$LOG"
  t0=$(date +%s)
  export -f "${1?}"
  timeout -k 5 "$limit" bash -o pipefail -c "$(printf '%q ' "$@")" >>"$LOG" 2>&1
  rc=$?
  local took=$(($(date +%s) - t0))
  if [ "$rc" = 0 ]; then
    say "PASS $name (${took}s)"
    PASSED=$((PASSED + 1))
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    say "FAIL $name (timed out after ${limit}s)"
    FAILED=$((FAILED + 1))
  elif [ "$rc" = 77 ]; then
    say "SKIPPED $name ($(tail -n 1 "$LOG"))"
    SKIPPED=$((SKIPPED + 1))
  else
    say "FAIL $name (exit $rc; see gpu-check.log)"
    FAILED=$((FAILED + 1))
  fi
  return 0
}

# --- the steps (each runs in its own bash; exit 77 means skipped, with the reason last) --------
gpu_info() {
  nvidia-smi && nvidia-smi --query-gpu=name,memory.total,driver_version,pcie.link.gen.current,pcie.link.width.current,clocks.sm,clocks.mem --format=csv
}

# PATH and libraries for the build tools: the carried dependencies (.gpu-deps), nvcc off PATH
# (/usr/local/cuda/bin), cmake and ninja from the Python environment's bin (pip's cmake, ninja).
tool_env() {
  local dir
  if [ -d "$DEPS/usr" ]; then
    export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    command -v pkg-config >/dev/null || export PATH="$PATH:$DEPS/usr/bin"
  fi
  if ! command -v nvcc >/dev/null; then
    for dir in "${CUDA_HOME:-/nonexistent}/bin" /usr/local/cuda/bin; do
      if [ -x "$dir/nvcc" ]; then
        export PATH="$dir:$PATH"
        break
      fi
    done
  fi
  if ! command -v cmake >/dev/null && command -v python3 >/dev/null; then
    dir=$(dirname "$(python3 -c 'import sys; print(sys.executable)')")
    [ -x "$dir/cmake" ] && export PATH="$PATH:$dir"
  fi
}

configure() {
  tool_env
  local tool prefix=""
  [ -d "$DEPS/usr" ] && prefix="$DEPS/usr"
  for tool in cmake g++ nvcc; do
    command -v "$tool" >/dev/null || { echo "gpu-check: $tool is not on PATH"; return 1; }
  done
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  echo "cmake $(cmake --version | head -1), $(g++ --version | head -1), nvcc $(nvcc --version | tail -1)"
  cmake -S "$ROOT" -B "$BUILD" "${generator[@]}" -DPLEXUS_CUDA=ON -DPLEXUS_CUDA_ARCHS=90 \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" \
    ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"}
}

build() {
  tool_env
  cmake --build "$BUILD" -j "$JOBS" >"$OUT/build.log" 2>&1
  local rc=$?
  tail -n 30 "$OUT/build.log"
  return $rc
}

cuda_tests() {
  tool_env
  cd "$BUILD" || return 1
  ctest -R '^cuda\.' -j 4 --timeout 120 --output-on-failure >"$OUT/ctest-cuda.log" 2>&1
  local rc=$?
  tail -n 40 "$OUT/ctest-cuda.log"
  if grep -q "No tests were found" "$OUT/ctest-cuda.log"; then
    echo "gpu-check: no cuda.* tests in this build"
    return 1
  fi
  local ran skipped
  ran=$(grep -cE "Test +#[0-9]+: cuda\." "$OUT/ctest-cuda.log")
  skipped=$(grep -cE "Test +#[0-9]+: cuda\..*Skipped" "$OUT/ctest-cuda.log")
  echo "gpu-check: cuda.* tests: $ran run, $skipped skipped"
  # On a GPU nothing should skip for want of a device.
  [ "$rc" = 0 ] && [ "$skipped" = 0 ]
}

copy_bw() {
  "$BIN/cuda_copy_bw" -b 1G -n 20 | tee "$WORK/copy_bw"
}

# all_reduce_perf under plexus-run on device buffers, 0 wrong required:
#   perf_run NRANKS TIMEOUT TAG [ENV=VALUE...] -- ALL_REDUCE_PERF_ARGS...
perf_run() {
  local n=$1 limit=$2 tag=$3
  shift 3
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" "$BIN/plexus-run" -n "$n" --no-prefix --timeout "$limit" \
    "$BIN/all_reduce_perf" "$@" \
    | tee "$WORK/table_$tag"
  local rc=${PIPESTATUS[0]}
  grep -q "# Out of bounds values : 0 OK" "$WORK/table_$tag" || return 1
  grep -q "# Buffers: device memory" "$WORK/table_$tag" || { echo "gpu-check: not on device buffers"; return 1; }
  return "$rc"
}

torch_check() {
  local lib
  lib=$(find "$BUILD" -name 'libnccl.so.2' -print -quit 2>/dev/null)
  if ! python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "torch with CUDA is not importable here ($(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>&1 | tail -1))"
    return 77
  fi
  if [ -z "$lib" ]; then
    echo "no libnccl.so.2 in $BUILD (Plexus's NCCL-compatible library was not built)"
    return 77
  fi
  LD_PRELOAD="$lib" PYTHONUNBUFFERED=1 python3 "$ROOT/scripts/gpu_torch_check.py" --timeout 100
}

export -f tool_env

# --- run them -----------------------------------------------------------------------------------
if [ "$DRY_RUN" = 1 ]; then
  echo "gpu-check dry run: ROOT=$ROOT OUT=$OUT BUILD=$BUILD budget ${BUDGET}s, $JOBS build jobs"
fi
say "# gpu-check: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
step gpu_info 20 5 gpu_info
if [ "${GPU_CHECK_SKIP_BUILD:-0}" = 1 ]; then
  say "SKIPPED configure, build (GPU_CHECK_SKIP_BUILD=1: using $BUILD as it is)"
else
  step configure 120 30 configure
  step build 330 60 build
fi
if [ "$DRY_RUN" = 0 ] && [ ! -x "$BIN/all_reduce_perf" ]; then
  say "# the build produced no all_reduce_perf: the remaining steps cannot run"
fi
step copy_bw 60 15 copy_bw
step cuda_tests 150 30 cuda_tests
# busbw at 1 GB (-b 8 -f 4 never lands on 1 GB: 8 * 4^k skips 2^30), then 8 B latency.
step busbw_1G_2 60 20 perf_run 2 55 bw2 -- -b 1G -e 1G -d float -n 10 -w 2
step busbw_1G_4 60 20 perf_run 4 55 bw4 -- -b 1G -e 1G -d float -n 10 -w 2
step latency_8B_2 30 10 perf_run 2 25 lat2 -- -b 8 -e 8 -n 500 -w 50
# The staged path: forced over tcp, every type, to 64 MB.
step allreduce_2_tcp 60 15 perf_run 2 55 tcp2 PLEXUS_TRANSPORTS=tcp -- -b 8 -e 64M -f 4 -d all -n 5 -w 1
step allreduce_4_tcp 60 15 perf_run 4 55 tcp4 PLEXUS_TRANSPORTS=tcp -- -b 8 -e 64M -f 4 -d all -n 5 -w 1
step torch 120 30 torch_check
step graph_launch 30 10 perf_run 2 25 graph -- -b 8 -e 1M -f 32 -n 5 -w 1 -G 10
# Every type to 1 GB on the default transports (the longest steps, last).
step allreduce_2 120 40 perf_run 2 115 ar2 -- -b 8 -e 1G -f 4 -d all -n 5 -w 1
step allreduce_4 150 40 perf_run 4 145 ar4 -- -b 8 -e 1G -f 4 -d all -n 5 -w 1

if [ "$DRY_RUN" = 1 ]; then
  echo "then: the 2- and 4-rank tables, the copy bandwidths and busbw at 1 GB against the bounds they"
  echo "imply (scripts/gpu-check-bounds.awk), written to $OUT/summary.txt"
  exit 0
fi

# --- tables and bounds ------------------------------------------------------------------------
for tag in bw2 bw4 lat2 tcp2 tcp4 graph ar2 ar4; do
  [ -f "$WORK/table_$tag" ] || continue
  {
    echo "# --- table $tag ---"
    grep -vE "^#  Rank|^# Using devices|^#$" "$WORK/table_$tag"
  } >>"$SUMMARY"
done
if [ -f "$WORK/copy_bw" ]; then
  tables=()
  for tag in bw2 bw4 lat2 tcp2 tcp4 ar2 ar4; do
    [ -f "$WORK/table_$tag" ] && tables+=("$WORK/table_$tag")
  done
  awk -f "$ROOT/scripts/gpu-check-bounds.awk" "$WORK/copy_bw" "${tables[@]}" | tee -a "$SUMMARY" >>"$LOG"
fi
say "# gpu-check: $PASSED passed, $FAILED failed, $SKIPPED skipped in $(($(date +%s) - START))s"
[ "$FAILED" = 0 ]
