#!/usr/bin/env bash
# Installs every build, test and demo dependency from Debian packages.
# libopenblas0-pthread matters: without it LibTorch runs on the reference
# BLAS, about ten times slower.
# Idempotent: packages already present are left alone, and apt is only
# consulted when something is missing.
set -euo pipefail

packages=(
    build-essential cmake pkg-config ccache clang-format clang libclang-rt-14-dev
  libtorch-dev libboost-dev libsqlite3-dev libcpp-httplib-dev
  nlohmann-json3-dev prometheus-cpp-dev libgtest-dev libssl-dev zlib1g-dev libseccomp-dev
  libopenblas0-pthread
  dataset-fashion-mnist python3-torch python3-numpy python3-matplotlib
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
