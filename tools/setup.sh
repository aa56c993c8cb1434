#!/usr/bin/env bash
# Installs what tailor needs (Debian packages, idempotent) and builds it.
#   tools/setup.sh <build-dir> <build-type> [<log-file> [<target>...]]
# Without a log file the build prints as it goes. With one, the configure and
# build output go to that file and the terminal gets one progress line
# (the last lines of the log when the build fails). Targets: all by default.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$root/build/release}"
build_type="${2:-Release}"
log="${3:-}"
targets=("${@:4}")

packages=(
  build-essential cmake ninja-build pkg-config
  librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libxxhash-dev libssl-dev prometheus-cpp-dev libmicrohttpd-dev tzdata
  kcat python3 python3-confluent-kafka python3-protobuf python3-yaml curl
  rocksdb-tools
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
# kubectl (kustomize v4 or later built in) renders deploy/k8s for
# tests/unit/deploy. Debian's archive has no kubectl package (its
# kubernetes-client 1.20 is too old for the manifests), so it is installed
# only where apt offers one; the test says so when it is missing.
if ! command -v kubectl >/dev/null 2>&1 &&
  apt-cache policy kubectl 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  missing+=(kubectl)
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update >/dev/null &&
      "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

target_args=()
((${#targets[@]})) && target_args=(--target "${targets[@]}")
if [[ -z "$log" ]]; then
  if [[ ! -f "$build_dir/build.ninja" ]]; then
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
  fi
  exec cmake --build "$build_dir" -j"$(nproc)" "${target_args[@]}"
fi

# Quiet: everything into $log, one line on the terminal.
mkdir -p "$(dirname "$log")"
: >"$log"
progress() {  # Rewrites the line on a terminal; elsewhere prints nothing.
  [[ -t 1 ]] && printf '\r\033[Ksetup: building %s (full output: %s)' "$1" "$log"
  return 0
}
[[ -t 1 ]] || echo "setup: building (full output: $log)"
progress "..."
start=$SECONDS
status=0
{
  if [[ ! -f "$build_dir/build.ninja" ]]; then
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type"
  fi &&
    cmake --build "$build_dir" -j"$(nproc)" "${target_args[@]}"
} 2>&1 | while IFS= read -r line; do
  printf '%s\n' "$line" >>"$log"
  if [[ $line =~ ^\[([0-9]+/[0-9]+)\] ]]; then progress "${BASH_REMATCH[1]}"; fi
done || status=$?
[[ -t 1 ]] && printf '\r\033[K'
if ((status != 0)); then
  echo "setup: build failed (full output: $log); the errors:" >&2
  grep -E -A3 'error|FAILED' "$log" | head -40 >&2 || tail -20 "$log" >&2
  exit "$status"
fi
warnings=$(grep -c 'warning:' "$log" || true)
echo "setup: built in $((SECONDS - start)) s, $warnings compiler warnings (full output: $log)"
