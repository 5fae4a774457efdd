#!/usr/bin/env bash
# Python side of CI: installs what plexus_torch needs (idempotently), builds it against a Plexus
# build or install tree for each PyTorch present, and runs its tests within a time budget.
#
#   bash python/ci.sh [PLEXUS_BUILD_OR_PREFIX]      (default: build-test, then build-py)
#
# PyTorch versions: the PyPI wheel, in a virtual environment of its own made from the `python3` on
# PATH (nothing is installed into that python3 itself), and Debian's python3-torch (1.13) for
# /usr/bin/python3. Each gets its own build directory (python/build/<tag>) and runs:
#   1. pytest python/tests (every operation x dtype x op on 2, 3 and 4 ranks, Work handles,
#      subgroups, DDP against Gloo);
#   2. PyTorch's DistributedTest suite on 3 ranks (about 90 s each), and with
#      PLEXUS_TORCH_CI_GLOO_GATES=1 a second pass with the suite's Gloo-only gates opened.
# Knobs: PLEXUS_TORCH_CI_TORCH="pypi debian" (which PyTorch builds), PLEXUS_TORCH_CI_BUDGET
# (seconds for building and testing, default 1200; installing comes first and is not counted),
# PLEXUS_TORCH_CI_NO_INSTALL=1 (skip installing), PLEXUS_TORCH_CI_VENV (the PyPI environment,
# default ~/.cache/plexus/venv-torch-<python tag>: outside the tree, so that a fresh clone on the
# same machine, as CI's, reuses its torch instead of downloading it again; when it already has
# every package nothing is downloaded, so it also works offline).
# Everything talks over loopback only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
START=$(date +%s)
BUDGET="${PLEXUS_TORCH_CI_BUDGET:-1200}"
WHICH="${PLEXUS_TORCH_CI_TORCH:-pypi debian}"

say() { printf '[python/ci] %s\n' "$*"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo > /dev/null; then SUDO=sudo; fi

plexus_dir="${1:-}"
if [ -z "$plexus_dir" ]; then
  for d in "$ROOT/build-test" "$ROOT/build-py" "$ROOT/build"; do
    if [ -e "$d/lib/libplexus.so" ]; then plexus_dir="$d"; break; fi
  done
fi
if [ -z "$plexus_dir" ] || { [ ! -e "$plexus_dir/lib/libplexus.so" ] &&
  [ ! -e "$plexus_dir/lib64/libplexus.so" ]; }; then
  say "no libplexus.so under '${plexus_dir:-build-test, build-py, build}': build the library first"
  say "(cmake -S . -B build-py -G Ninja && ninja -C build-py plexus) or pass its build/prefix dir"
  exit 1
fi
plexus_dir="$(cd "$plexus_dir" && pwd)"
say "Plexus from $plexus_dir; budget ${BUDGET} s; PyTorch: $WHICH"

# ---- dependencies ------------------------------------------------------------------------------
install_debian() {
  local need=()
  for p in "$@"; do dpkg -s "$p" > /dev/null 2>&1 || need+=("$p"); done
  if [ ${#need[@]} -gt 0 ]; then
    say "apt-get install ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" > /dev/null
  fi
}
install_pip() {  # python, then module:package pairs
  local py="$1" need=()
  shift
  for mp in "$@"; do
    "$py" -c "import ${mp%%:*}" > /dev/null 2>&1 || need+=("${mp#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    say "$py -m pip install ${need[*]}"
    "$py" -m pip install -q --root-user-action=ignore "${need[@]}" 2>&1 | grep -v WARNING || true
  fi
}

# The PyPI environment: a venv of the python3 on PATH, without the system's site-packages (there
# Debian's torch 1.13 would satisfy `import torch`). Remade when its base python is gone.
BASE_PY="$(command -v python3)"
PYPI_VENV="${PLEXUS_TORCH_CI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/plexus/venv-torch-$(
  "$BASE_PY" -c 'import sys; print(sys.implementation.cache_tag)')}"
PYPI_PY="$PYPI_VENV/bin/python"
make_pypi_venv() {
  if "$PYPI_PY" -c 'import sys' > /dev/null 2>&1; then return 0; fi
  say "creating the PyPI environment $PYPI_VENV (from $BASE_PY)"
  rm -rf "$PYPI_VENV"
  mkdir -p "$(dirname "$PYPI_VENV")"
  if ! "$BASE_PY" -m venv "$PYPI_VENV" > /dev/null 2>&1; then
    rm -rf "$PYPI_VENV"
    install_debian python3-venv python3-dev  # Debian's python3 needs these for venv and builds
    "$BASE_PY" -m venv "$PYPI_VENV"
  fi
}
DEBIAN_PY="$HERE/build/venv-debian/bin/python"  # /usr/bin/python3 with Debian's torch, in a venv
if [ "${PLEXUS_TORCH_CI_NO_INSTALL:-0}" != 1 ]; then
  install_debian ninja-build pkg-config
  case " $WHICH " in *" debian "*)
    install_debian python3-torch libtorch-dev python3-dev python3-pytest python3-numpy \
      python3-setuptools python3-hypothesis python3-yaml python3-venv
    # Debian's Python is externally managed: PyTorch's test helpers need expecttest, which
    # Debian does not package, so it goes into a venv that sees the system's torch.
    if [ ! -x "$HERE/build/venv-debian/bin/python" ]; then
      mkdir -p "$HERE/build"
      /usr/bin/python3 -m venv --system-site-packages "$HERE/build/venv-debian"
    fi
    install_pip "$HERE/build/venv-debian/bin/python" expecttest:expecttest ;;
  esac
  case " $WHICH " in *" pypi "*)
    make_pypi_venv
    install_pip "$PYPI_PY" torch:torch pytest:pytest numpy:numpy expecttest:expecttest \
      hypothesis:hypothesis setuptools:setuptools yaml:pyyaml ;;
  esac
fi

# ---- build and test per PyTorch ---------------------------------------------------------------
START=$(date +%s)  # the budget covers building and testing, not downloads
status=0
summary=()
run_for() {  # tag python
  local tag="$1" py="$2"
  if ! "$py" -c "import torch" > /dev/null 2>&1; then
    say "$tag: $py has no torch; skipped"
    summary+=("$tag: no torch")
    return
  fi
  local ver
  ver="$("$py" -c 'import torch; print(torch.__version__)' 2> /dev/null | tail -1)"
  say "$tag: building plexus_torch for torch $ver ($py)"
  local b="$HERE/build/$tag"
  mkdir -p "$HERE/build"
  (cd "$HERE" && PLEXUS_DIR="$plexus_dir" MAX_JOBS=2 \
    "$py" setup.py -q build --build-base "$b" --build-lib "$b/lib" > "$b.log" 2>&1) || {
    say "$tag: build failed; log:"
    tail -40 "$b.log"
    status=1
    summary+=("$tag: build FAILED")
    return
  }
  export PYTHONPATH="$b/lib${PYTHONPATH:+:$PYTHONPATH}"
  export MASTER_ADDR=127.0.0.1 PLEXUS_SOCKET_IFNAME=lo GLOO_SOCKET_IFNAME=lo
  local t
  t=$(left)
  if [ "$t" -lt 60 ]; then
    say "$tag: out of time budget before pytest"
    status=1
    return
  fi
  say "$tag: pytest (up to $((t / 2)) s)"
  local out="$HERE/build/$tag-pytest.txt"
  if (cd "$HERE/tests" && timeout $((t / 2)) "$py" -m pytest -q -p no:cacheprovider . 2>&1) \
    | tee "$out" | grep -E "passed|failed|error" | tail -20; then :; fi
  if ! grep -qE "^[0-9]+ passed" "$out" || grep -qE "[0-9]+ (failed|error)" "$out"; then
    status=1
    summary+=("$tag: pytest FAILED ($(tail -1 "$out"))")
  else
    summary+=("$tag: pytest $(tail -1 "$out")")
  fi
  local gates
  for gates in plexus ${PLEXUS_TORCH_CI_GLOO_GATES:+gloo}; do
    t=$(left)
    say "$tag: DistributedTest, gates as for $gates (up to $t s)"
    out="$HERE/build/$tag-dist-$gates.txt"
    if (cd "$HERE" && timeout "$t" "$py" tests/dist_suite.py --world-size 3 --gates "$gates" \
      2> "$HERE/build/$tag-dist-$gates.err") | tee "$out" | grep -E "^(FAIL|ERROR)|passed"; then :; fi
    if ! grep -qE "^[0-9]+ passed, 0 failed" "$out"; then
      status=1
      summary+=("$tag: DistributedTest ($gates gates) FAILED (python/build/$tag-dist-$gates.err)")
    else
      summary+=("$tag: DistributedTest ($gates gates) $(tail -1 "$out")")
    fi
  done
  unset PYTHONPATH
}

for w in $WHICH; do
  case "$w" in
    pypi)  # with PLEXUS_TORCH_CI_NO_INSTALL=1 and no environment yet: the python3 on PATH as it is
      if [ "${PLEXUS_TORCH_CI_NO_INSTALL:-0}" = 1 ] && [ ! -x "$PYPI_PY" ]; then PYPI_PY="$BASE_PY"; fi
      run_for torch2 "$PYPI_PY" ;;
    debian) run_for torch1 "$DEBIAN_PY" ;;
    *) say "unknown PyTorch source '$w' (pypi, debian)"; status=1 ;;
  esac
done

say "summary ($(($(date +%s) - START)) s):"
for s in "${summary[@]}"; do say "  $s"; done
exit $status
