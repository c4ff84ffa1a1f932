#!/usr/bin/env bash
# build.sh [BUILD_DIR [CMAKE_ARGS...]]: configure and build everything.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
shift || true
cmake -S "$top" -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
