#!/usr/bin/env bash
# Installs what tailor needs (Debian packages, idempotent) and builds it.
#   tools/setup.sh <build-dir> <build-type>
# Prints nothing but errors when everything is already in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$root/build/release}"
build_type="${2:-Release}"

packages=(
  build-essential cmake ninja-build pkg-config
  librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libxxhash-dev prometheus-cpp-dev libmicrohttpd-dev tzdata
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

if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
fi
cmake --build "$build_dir" -j"$(nproc)"
