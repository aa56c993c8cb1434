#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed time (ctest fuzz_*, see
# CMakeLists.txt here):
#   run_fuzz.sh <fuzzer> <seconds> <work-dir> <seed-corpus-dir>
# New inputs go to <work-dir>/corpus, crashing ones to <work-dir>/artifacts;
# the seed corpus is only read. Prints libFuzzer's "Done N runs" line, or
# the end of its log when it found a problem.
set -euo pipefail
fuzzer="$1" seconds="$2" work="$3" seeds="$4"
mkdir -p "$work/corpus" "$work/artifacts"
log="$work/fuzz.log"
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" >"$log" 2>&1 ||
  status=$?
if ((status != 0)); then
  tail -n 80 "$log"
  echo "$(basename "$fuzzer"): exit $status; log $log, input in $work/artifacts"
  exit "$status"
fi
done_line="$(grep -E '^Done [0-9]+ runs' "$log" || true)"
[[ -n "$done_line" ]] || { tail -n 20 "$log"; exit 1; }
echo "$(basename "$fuzzer"): $done_line; $(ls "$work/corpus" | wc -l) inputs in $work/corpus"
