#!/usr/bin/env bash
# Builds tailor's libFuzzer targets (tests/fuzz) with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer in build/fuzz and runs each for 60 s from
# its seed corpus (ctest label `fuzz`), then prints libFuzzer's "Done N runs"
# line per target. Extra arguments go to ctest, e.g. `tools/fuzz.sh -j2` or
# `tools/fuzz.sh -R rules`.
# Inputs that crash are left in build/fuzz/tests/fuzz/work/<name>/artifacts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$root/build/fuzz"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build_dir" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DTAILOR_FUZZ=ON -DTAILOR_ASAN=ON -DTAILOR_UBSAN=ON >/dev/null
fi
cmake --build "$build_dir" -j2 --target fuzz_targets
cd "$build_dir"
rm -f tests/fuzz/work/*/fuzz.log
status=0
ctest -L fuzz --output-on-failure "$@" || status=$?
for log in tests/fuzz/work/*/fuzz.log; do
  [[ -f "$log" ]] || continue
  done_line="$(grep -E '^Done [0-9]+ runs' "$log" || echo "no Done line, see $log")"
  echo "fuzz_$(basename "$(dirname "$log")"): $done_line"
done
exit "$status"
