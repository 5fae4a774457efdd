#!/usr/bin/env bash
# Installs the Debian 12 packages Plexus builds and tests with. Idempotent: installs only what is
# missing, and runs apt-get update only then. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git python3 clang-format
  libgtest-dev libgmock-dev libbenchmark-dev
  libhwloc-dev libcli11-dev nlohmann-json3-dev libpugixml-dev
  libibverbs-dev libfabric-dev libucx-dev
  iproute2 procps graphviz
  dpkg-dev help2man
  openmpi-bin libopenmpi-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
