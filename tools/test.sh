#!/usr/bin/env bash
# Builds tailor and runs the whole test suite (unit and integration tiers)
# through ctest. Extra arguments go to ctest, e.g. `tools/test.sh -L unit`.
# The chaos tier is long and runs only when asked: `tools/test.sh -L chaos`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$root/build/test"
"$root/tools/setup.sh" "$build_dir" RelWithDebInfo
args=("$@")
((${#args[@]})) || args=(-LE chaos)
cd "$build_dir"
ctest --output-on-failure -j2 "${args[@]}"
