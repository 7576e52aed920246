#!/usr/bin/env bash
# Configures and builds Tracemark into ./build (ccache-backed, two jobs).
# usage: scripts/build.sh [TARGET...]   (no target: everything, tests included)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-configure.log 2>&1 \
  || { cat build-configure.log; exit 1; }
rm -f build-configure.log
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j "${TRACEMARK_JOBS:-2}" "${targets[@]}"
